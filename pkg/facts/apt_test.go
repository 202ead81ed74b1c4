package facts

import (
	"reflect"
	"testing"
)

func TestParseAptSourcesList(t *testing.T) {
	in := "# comment\n" +
		"deb http://deb.example.org/debian bookworm main contrib # trailing\n" +
		"deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] https://repo.example.com/apt stable main\n" +
		"deb [ trusted=yes ] http://insecure.example.net/ ./\n" +
		"deb-src [arch+=arm64,i386] http://deb.example.org/debian bookworm main\n" +
		"deb [broken http://x/ y\n" +
		"deb http://only-uri/\n" +
		"rpm http://not-apt/ x y\n"
	got := ParseAptSourcesList([]byte(in))
	want := []AptSource{
		{Line: 2, Type: "deb", URIs: []string{"http://deb.example.org/debian"}, Suites: []string{"bookworm"}, Components: []string{"main", "contrib"}, Options: map[string]string{}},
		{Line: 3, Type: "deb", URIs: []string{"https://repo.example.com/apt"}, Suites: []string{"stable"}, Components: []string{"main"}, Options: map[string]string{"arch": "amd64", "signed-by": "/usr/share/keyrings/x.gpg"}},
		{Line: 4, Type: "deb", URIs: []string{"http://insecure.example.net/"}, Suites: []string{"./"}, Components: []string{}, Options: map[string]string{"trusted": "yes"}},
		{Line: 5, Type: "deb-src", URIs: []string{"http://deb.example.org/debian"}, Suites: []string{"bookworm"}, Components: []string{"main"}, Options: map[string]string{"arch": "arm64,i386"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

func TestParseAptSources822(t *testing.T) {
	in := "Types: deb deb-src\n" +
		"URIs: http://deb.example.org/debian\n" +
		"Suites: bookworm bookworm-updates\n" +
		"Components: main\n" +
		"Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n" +
		"\n" +
		"# disabled\n" +
		"Types: deb\n" +
		"URIs: http://old.example.org/\n" +
		"Suites: old\n" +
		"Enabled: no\n" +
		"\n" +
		"Types: deb\n" +
		"URIs: http://x.example.org/\n" +
		"Suites: x\n" +
		"Allow-Insecure: yes\n" +
		"Signed-By:\n" +
		" -----BEGIN PGP PUBLIC KEY BLOCK-----\n" +
		" .\n"
	got := ParseAptSources822([]byte(in))
	deb := AptSource{Line: 1, Type: "deb", URIs: []string{"http://deb.example.org/debian"}, Suites: []string{"bookworm", "bookworm-updates"}, Components: []string{"main"},
		Options: map[string]string{"signed-by": "/usr/share/keyrings/debian-archive-keyring.gpg"}}
	src := deb
	src.Type = "deb-src"
	src.Options = map[string]string{"signed-by": "/usr/share/keyrings/debian-archive-keyring.gpg"}
	want := []AptSource{deb, src,
		{Line: 13, Type: "deb", URIs: []string{"http://x.example.org/"}, Suites: []string{"x"}, Components: []string{}, Options: map[string]string{"allow-insecure": "yes", "signed-by": "(inline key)"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

func FuzzParseAptSources(f *testing.F) {
	f.Add([]byte("deb [trusted=yes arch=amd64] http://x/ y main\n"))
	f.Add([]byte("Types: deb\nURIs: http://x/\nSuites: y\nSigned-By:\n key\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, s := range append(ParseAptSourcesList(data), ParseAptSources822(data)...) {
			if s.Type == "" || len(s.URIs) == 0 || s.Options == nil || s.Line < 1 {
				t.Fatalf("incomplete entry %+v", s)
			}
		}
	})
}
