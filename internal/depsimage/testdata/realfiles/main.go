// Command realfiles builds against real public modules that ship files a
// careless packer drops: cel-go embeds templates/authoring.tmpl, testify
// v1.9.0 ships *.go.tmpl, viper ships flake.lock, grpc-gateway ships
// MODULE.bazel.lock and buf.lock. TestRealModuleFiles in internal/depsimage
// warms this module, unpacks the image, runs `go mod verify` on the
// unpacked cache and builds this program offline from it.
package main

import (
	"fmt"

	"github.com/google/cel-go/cel"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"github.com/spf13/viper"
	"github.com/stretchr/testify/assert"
)

func main() {
	env, err := cel.NewEnv()
	fmt.Println(env != nil, err, utilities.NewDoubleArray(nil) != nil, viper.New() != nil, assert.ObjectsAreEqual(1, 1))
}
