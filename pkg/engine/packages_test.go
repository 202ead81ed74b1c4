package engine_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/pkg/posture"
)

func TestPackagesFromRPMDB(t *testing.T) {
	rpmdb, err := os.ReadFile(filepath.Join("testdata", "roots", "rhel-9", "var", "lib", "rpm", "rpmdb.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	rhel := map[string]string{"var/lib/rpm/rpmdb.sqlite": string(rpmdb), "etc/os-release": "ID=rhel\n"}
	fedora := map[string]string{"usr/lib/sysimage/rpm/rpmdb.sqlite": string(rpmdb), "var/lib/rpm": "->../../usr/lib/sysimage/rpm"}
	corrupt := map[string]string{"var/lib/rpm/rpmdb.sqlite": "SQLite format 3\x00" + strings.Repeat("\x00", 200)}
	tests := []struct {
		name       string
		files      map[string]string
		check      string
		wantStatus []posture.Status
		wantReason string
	}{
		{"installed and absent", rhel, "{package: {names: [openssh-server, telnet-server], state: absent}}",
			[]posture.Status{posture.Fail, posture.Pass},
			"openssh-server 8.7p1-38.el9 is installed (rpm database /var/lib/rpm/rpmdb.sqlite); expected absent"},
		{"epoch in the version", rhel, "{package: {names: nftables, state: installed}}",
			[]posture.Status{posture.Pass}, "nftables 1:1.0.9-1.el9 is installed"},
		{"only_if_packages reads the rpm database", rhel, "{only_if_packages: vsftpd, file: {path: /etc/vsftpd/vsftpd.conf}}",
			[]posture.Status{posture.Skip}, "not applicable: vsftpd is not installed"},
		{"Fedora location through a link", fedora, "{package: {names: chrony, state: installed}}",
			[]posture.Status{posture.Pass}, "chrony 4.5-1.el9 is installed (rpm database /var/lib/rpm/rpmdb.sqlite)"},
		{"corrupt database is an error", corrupt, "{package: {names: bash, state: installed}}",
			[]posture.Status{posture.Error}, "cannot read /var/lib/rpm/rpmdb.sqlite: malformed sqlite file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := runOne(t, writeTree(t, tc.files), control(t, tc.check))
			if len(res) != len(tc.wantStatus) {
				t.Fatalf("%d results, want %d: %+v", len(res), len(tc.wantStatus), res)
			}
			for i, r := range res {
				if r.Status != tc.wantStatus[i] {
					t.Errorf("result %d (%s): %s, want %s: %s", i, r.Resource, r.Status, tc.wantStatus[i], r.Reason)
				}
			}
			if !strings.Contains(res[0].Reason, tc.wantReason) {
				t.Errorf("reason %q does not contain %q", res[0].Reason, tc.wantReason)
			}
		})
	}
}
