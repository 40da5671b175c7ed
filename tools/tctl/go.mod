module erasure-engine/tools/tctl

go 1.22

require github.com/temporalio/tctl v1.18.0
