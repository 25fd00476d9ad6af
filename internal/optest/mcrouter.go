package optest

import "k8s.io/apimachinery/pkg/runtime/schema"

// McrouterGVK is the kind of deploy/crds/mcrouter.example.com_mcrouters.yaml:
// the resource of the operator this repository ships, which the end-to-end
// and sharding tests create.
var McrouterGVK = schema.GroupVersionKind{Group: "mcrouter.example.com", Version: "v1alpha3", Kind: "Mcrouter"}
