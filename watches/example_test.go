package watches_test

import (
	"fmt"
	"path/filepath"

	"github.com/mcrouter-operator/mcrouter-operator/watches"
)

func ExampleLoad() {
	// testdata/example/watches.yaml maps Mcrouter to the role in testdata/example/roles/mcrouter.
	ws, err := watches.Load("watches.yaml", watches.Options{
		WorkDir:                 "testdata/example",
		ReconcilePeriod:         watches.DefaultReconcilePeriod,
		MaxConcurrentReconciles: 2,
		AnsibleVerbosity:        watches.DefaultAnsibleVerbosity,
		LookupEnv: func(name string) (string, bool) {
			if name == "MAX_CONCURRENT_RECONCILES_MCROUTER_MCROUTER_EXAMPLE_COM" {
				return "4", true
			}
			return "", false
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, w := range ws {
		fmt.Println(w.GroupVersionKind)
		fmt.Println("role:", filepath.Base(filepath.Dir(w.Role))+"/"+filepath.Base(w.Role), filepath.IsAbs(w.Role))
		fmt.Println("every", w.ReconcilePeriod, "with", w.MaxConcurrentReconciles, "workers at verbosity", w.AnsibleVerbosity)
		fmt.Println("markUnsafe:", w.MarkUnsafe, "selector:", w.Selector.Empty())
	}

	_, err = watches.Load("testdata/invalid/unknown-key.yaml", watches.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	fmt.Println(err)
	// Output:
	// mcrouter.example.com/v1alpha3, Kind=Mcrouter
	// role: roles/mcrouter true
	// every 5m0s with 4 workers at verbosity 2
	// markUnsafe: true selector: true
	// testdata/invalid/unknown-key.yaml:6: entry 0 (mcrouter.example.com/v1alpha3, Kind=Mcrouter): unknown key "reconcilePeriode" (did you mean "reconcilePeriod"?)
}
