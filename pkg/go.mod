module github.com/palisadehq/palisade/pkg

go 1.26.0

require gopkg.in/yaml.v3 v3.0.1

replace github.com/palisadehq/palisade/proto => ../proto
