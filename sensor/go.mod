module github.com/palisadehq/palisade/sensor

go 1.26.0

replace github.com/palisadehq/palisade/proto => ../proto

replace github.com/palisadehq/palisade/pkg => ../pkg

require (
	github.com/nats-io/nats.go v1.55.0
	github.com/palisadehq/palisade/pkg v0.0.0
	github.com/palisadehq/palisade/proto v0.0.0
	github.com/spf13/cobra v1.10.2
	go.uber.org/zap v1.28.0
	google.golang.org/grpc v1.85.0
)

require (
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/klauspost/compress v1.20.1 // indirect
	github.com/nats-io/nkeys v0.4.16 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
	go.uber.org/multierr v1.10.0 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/text v0.44.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261110000943-09e21b237f2c // indirect
	google.golang.org/protobuf v1.36.12 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
