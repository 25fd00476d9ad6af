package mcrouter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
)

const (
	convergePlaybook = "molecule/default/converge.yml"
	verifyPlaybook   = "molecule/default/verify.yml"
	rolePlaybook     = "test/mcrouter/testdata/role.yml"
	defaultCRName    = "test-mcrouter" // molecule_cr_name in the default scenario
)

// argSpecTask is the task Ansible runs first in the role: it checks the
// variables against meta/argument_specs.yml.
const argSpecTask = "Validating arguments against arg spec 'main' - Deploy memcached behind mcrouter"

// roleTasks are the tasks of roles/mcrouter, as named in the json output.
var roleTasks = []string{
	argSpecTask,
	"Validate the Mcrouter spec",
	"Apply the memcached pool and the mcrouter Deployment, Services and ConfigMap",
	"Report the mcrouter address and the memcached servers in the Mcrouter status",
}

func converge(t *testing.T, ns string, vars map[string]any) []taskResult {
	t.Helper()
	return playbook{Path: convergePlaybook, Namespace: ns, Vars: vars}.mustRun(t)
}

func verify(t *testing.T, ns string, vars map[string]any) {
	t.Helper()
	playbook{Path: verifyPlaybook, Namespace: ns, Vars: vars}.mustRun(t)
}

// mcrouterConfig is the part of the mcrouter config.json the tests read.
type mcrouterConfig struct {
	Pools struct {
		A struct {
			Servers []string `json:"servers"`
		} `json:"A"`
	} `json:"pools"`
	Route json.RawMessage `json:"route"`
}

// observed is what the role left in the cluster for one Mcrouter.
type observed struct {
	Checksum string
	Replicas int32
	Config   mcrouterConfig
}

func observe(t *testing.T, ns, name string) observed {
	t.Helper()
	cs := clientset(t)
	dep, err := cs.AppsV1().Deployments(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get Deployment %s/%s: %v", ns, name, err)
	}
	sts, err := cs.AppsV1().StatefulSets(ns).Get(t.Context(), name+"-memcached", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get StatefulSet %s/%s-memcached: %v", ns, name, err)
	}
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get ConfigMap %s/%s: %v", ns, name, err)
	}
	var o observed
	if err := json.Unmarshal([]byte(cm.Data["config.json"]), &o.Config); err != nil {
		t.Fatalf("ConfigMap %s/%s config.json: %v", ns, name, err)
	}
	o.Checksum = dep.Spec.Template.Annotations["mcrouter.example.com/config-checksum"]
	if o.Checksum == "" {
		t.Fatalf("Deployment %s/%s: no config checksum annotation on the pod template", ns, name)
	}
	o.Replicas = *sts.Spec.Replicas
	return o
}

func wantServers(name, ns string, n int) []string {
	var s []string
	for i := range n {
		s = append(s, fmt.Sprintf("%s-memcached-%d.%s-memcached.%s.svc.cluster.local:11211", name, i, name, ns))
	}
	return s
}

// routeKind is "PoolRoute|A" for sharded and the route type for replicated.
func routeKind(t *testing.T, c mcrouterConfig) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(c.Route, &s); err == nil {
		return s
	}
	var r struct {
		Type     string            `json:"type"`
		Policies map[string]string `json:"operation_policies"`
	}
	if err := json.Unmarshal(c.Route, &r); err != nil {
		t.Fatalf("route %s: %v", c.Route, err)
	}
	return r.Type + " get=" + r.Policies["get"] + " set=" + r.Policies["set"]
}

var wantRoute = map[string]string{
	"sharded":    "PoolRoute|A",
	"replicated": "OperationSelectorRoute get=RandomRoute|Pool|A set=AllSyncRoute|Pool|A",
}

// TestMoleculeDefault runs the default scenario's converge and verify
// playbooks for both pool setups, then scales 3→4 and switches the pool setup.
func TestMoleculeDefault(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ setup, other string }{
		{setup: "sharded", other: "replicated"},
		{setup: "replicated", other: "sharded"},
	} {
		t.Run(tc.setup, func(t *testing.T) {
			t.Parallel()
			ns := newNamespace(t)
			converge(t, ns, map[string]any{"memcached_pool_size": 3, "pool_setup": tc.setup})
			verify(t, ns, nil)
			three := observe(t, ns, defaultCRName)
			if diff := cmp.Diff(wantServers(defaultCRName, ns, 3), three.Config.Pools.A.Servers); diff != "" {
				t.Errorf("servers with 3 pods (-want +got):\n%s", diff)
			}
			if got := routeKind(t, three.Config); got != wantRoute[tc.setup] {
				t.Errorf("route = %q, want %q", got, wantRoute[tc.setup])
			}

			again := converge(t, ns, map[string]any{"memcached_pool_size": 3, "pool_setup": tc.setup})
			for _, name := range roleTasks {
				if r := task(t, again, name); r.changed() {
					t.Errorf("second converge with the same spec: task %q changed", name)
				}
			}

			converge(t, ns, map[string]any{"memcached_pool_size": 4, "pool_setup": tc.setup})
			verify(t, ns, nil)
			four := observe(t, ns, defaultCRName)
			if four.Replicas != 4 {
				t.Errorf("StatefulSet replicas after scaling to 4 = %d", four.Replicas)
			}
			if diff := cmp.Diff(wantServers(defaultCRName, ns, 4), four.Config.Pools.A.Servers); diff != "" {
				t.Errorf("servers with 4 pods (-want +got):\n%s", diff)
			}
			if four.Checksum == three.Checksum {
				t.Errorf("config checksum did not change when scaling 3→4 (%s): the mcrouter pods would not roll", four.Checksum)
			}

			converge(t, ns, map[string]any{"memcached_pool_size": 4, "pool_setup": tc.other})
			verify(t, ns, nil)
			switched := observe(t, ns, defaultCRName)
			if got := routeKind(t, switched.Config); got != wantRoute[tc.other] {
				t.Errorf("route after switching to %s = %q, want %q", tc.other, got, wantRoute[tc.other])
			}
			if switched.Checksum == four.Checksum {
				t.Errorf("config checksum did not change when switching %s→%s", tc.setup, tc.other)
			}
		})
	}
}

// TestSelectorsMatchOnlyOwnPods puts two Mcrouters in one namespace and checks
// every Service selects exactly the pods the controllers created for its own
// Mcrouter.
func TestSelectorsMatchOnlyOwnPods(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	sizes := map[string]int{"alpha": 3, "beta": 2}
	for name, size := range sizes {
		converge(t, ns, map[string]any{"molecule_cr_name": name, "memcached_pool_size": size, "pool_setup": "sharded"})
	}
	for name, size := range sizes {
		var want []string
		for i := range size {
			want = append(want, fmt.Sprintf("%s-memcached-%d", name, i))
		}
		checkServicePods(t, ns, name+"-memcached", func(pods []string) bool {
			return cmp.Equal(want, pods)
		}, fmt.Sprint(want))
		checkServicePods(t, ns, name, func(pods []string) bool {
			return len(pods) == 1 && strings.HasPrefix(pods[0], name+"-")
		}, "one pod named "+name+"-…")
	}
}

// checkServicePods waits until the pods the Service selects (which the
// workload controllers create, and which stay Pending here) satisfy ok.
func checkServicePods(t *testing.T, ns, svcName string, ok func([]string) bool, want string) {
	t.Helper()
	cs := clientset(t)
	svc, err := cs.CoreV1().Services(ns).Get(t.Context(), svcName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get Service %s: %v", svcName, err)
	}
	selector := labels.SelectorFromSet(svc.Spec.Selector).String()
	var names []string
	optest.Await(t, fmt.Sprintf("Service %s (selector %s) selects %s", svcName, selector, want), func(ctx context.Context) (bool, error) {
		list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, err
		}
		names = names[:0]
		for _, p := range list.Items {
			names = append(names, p.Name)
		}
		sort.Strings(names)
		return ok(names), fmt.Errorf("selects pods %v", names)
	})
}

// TestRoleRejectsInvalidSpec runs the role directly with values the CRD would
// reject: the argument spec (types, pool_setup's choices) or the role's first
// task (bounds and forms) fails with a message naming the field, and nothing
// is created.
func TestRoleRejectsInvalidSpec(t *testing.T) {
	t.Parallel()
	const validateTask = "Validate the Mcrouter spec"
	for _, tc := range []struct {
		name string
		vars map[string]any
		task string
		want string
	}{
		{"pool setup", map[string]any{"pool_setup": "foo"}, argSpecTask, "value of pool_setup must be one of: sharded, replicated, got: foo"},
		{"pool size text", map[string]any{"memcached_pool_size": "three"}, argSpecTask, "argument 'memcached_pool_size' is of type <class 'str'> and we were unable to convert to int"},
		{"labels list", map[string]any{"labels": []string{"a"}}, argSpecTask, "argument 'labels' is of type <class 'list'> and we were unable to convert to dict"},
		{"pool size zero", map[string]any{"memcached_pool_size": 0}, validateTask, "spec.memcached_pool_size must be an integer from 1 to 256, got 0"},
		{"port", map[string]any{"memcached_port": 70000}, validateTask, "spec.memcached_port must be an integer from 1 to 65535, got 70000"},
		{"mcrouter port", map[string]any{"mcrouter_port": -1}, validateTask, "spec.mcrouter_port must be an integer from 1 to 65535, got -1"},
		{"fifo root", map[string]any{"debug_fifo_root": "fifos"}, validateTask, `spec.debug_fifo_root must be '' or an absolute path, got "fifos"`},
		// The argument spec converts "a=b" to a dict but leaves the variable a string.
		{"labels text", map[string]any{"labels": "a=b"}, validateTask, `spec.labels must be a mapping, got "a=b"`},
		{"image", map[string]any{"mcrouter_image": ""}, validateTask, `spec.mcrouter_image must be a non-empty image reference`},
		{"name", map[string]any{"molecule_cr_name": "9-lives"}, validateTask, `metadata.name must start with a letter`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ns := newNamespace(t)
			vars := map[string]any{"molecule_create_cr": false}
			for k, v := range tc.vars {
				vars[k] = v
			}
			_, err := playbook{Path: convergePlaybook, Namespace: ns, Vars: vars}.run(t)
			if err == nil {
				t.Fatalf("converge with %v succeeded; want the role to fail", tc.vars)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("task %q failed", tc.task)) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v\nwant the task %q to fail with %q", err, tc.task, tc.want)
			}
			sts, err := clientset(t).AppsV1().StatefulSets(ns).List(t.Context(), metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(sts.Items) != 0 {
				t.Errorf("the role created %d StatefulSet(s) for an invalid spec", len(sts.Items))
			}
		})
	}
}

// operatorVars builds the extra vars the operator passes for obj: the spec
// keys, ansible_operator_meta and the raw object, strings marked unsafe.
func operatorVars(obj *unstructured.Unstructured) map[string]any {
	vars := map[string]any{
		"ansible_operator_meta":          unsafe(map[string]any{"name": obj.GetName(), "namespace": obj.GetNamespace()}),
		"_mcrouter_example_com_mcrouter": unsafe(obj.Object),
	}
	spec, _, _ := unstructured.NestedMap(obj.Object, "spec")
	for k, v := range spec {
		vars[k] = unsafe(v)
	}
	return vars
}

// unsafe marks every string as Ansible unsafe text (no templating).
func unsafe(v any) any {
	switch v := v.(type) {
	case string:
		return map[string]any{"__ansible_unsafe": v}
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = unsafe(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = unsafe(e)
		}
		return out
	default:
		return v
	}
}

func createMcrouter(t testing.TB, ns, name string, spec map[string]any) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "mcrouter.example.com/v1alpha3",
		"kind":       "Mcrouter",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec":       spec,
	}}
	created, err := dynamicClient(t).Resource(mcrouterGVR).Namespace(ns).Create(t.Context(), obj, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create Mcrouter %s/%s: %v", ns, name, err)
	}
	return created
}

func getMcrouter(t testing.TB, ns, name string) *unstructured.Unstructured {
	t.Helper()
	obj, err := dynamicClient(t).Resource(mcrouterGVR).Namespace(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get Mcrouter %s/%s: %v", ns, name, err)
	}
	return obj
}

// TestRoleAsOperator runs the role with the operator's extra vars: unsafe
// strings stay literal, and the status task is skipped once the CR's status
// holds its values.
func TestRoleAsOperator(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	cr := createMcrouter(t, ns, "op", map[string]any{
		"pool_setup":  "sharded",
		"annotations": map[string]any{"note": "{{ lookup('pipe', 'id') }}"},
	})
	first := playbook{Path: rolePlaybook, Namespace: ns, Vars: operatorVars(cr)}.mustRun(t)
	if r := task(t, first, roleTasks[3]); !r.changed() {
		t.Errorf("first run: status task did not change the status (%v)", r.Result)
	}
	sts, err := clientset(t).AppsV1().StatefulSets(ns).Get(t.Context(), "op-memcached", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("StatefulSet op-memcached: %v", err)
	}
	if got := sts.Annotations["note"]; got != "{{ lookup('pipe', 'id') }}" {
		t.Errorf("annotation from the spec = %q; an unsafe value must not be templated", got)
	}
	if *sts.Spec.Replicas != 2 {
		t.Errorf("replicas = %d, want the CRD default 2", *sts.Spec.Replicas)
	}
	cr = getMcrouter(t, ns, "op")
	servers, _, _ := unstructured.NestedStringSlice(cr.Object, "status", "memcachedServers")
	if diff := cmp.Diff(wantServers("op", ns, 2), servers); diff != "" {
		t.Errorf("status.memcachedServers (-want +got):\n%s", diff)
	}

	second := playbook{Path: rolePlaybook, Namespace: ns, Vars: operatorVars(cr)}.mustRun(t)
	if r := task(t, second, roleTasks[3]); !r.skipped() {
		t.Errorf("second run with an up-to-date status: status task ran (%v)", r.Result)
	}
	if r := task(t, second, roleTasks[2]); r.changed() {
		t.Errorf("second run: apply task changed objects")
	}
}

// TestRoleWithoutCR checks the role's objects carry no owner references of
// their own (the operator's proxy injects them) and that a missing Mcrouter
// fails the status task with a clear message.
func TestRoleWithoutCR(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	_, err := playbook{Path: convergePlaybook, Namespace: ns, Vars: map[string]any{"molecule_create_cr": false}}.run(t)
	if err == nil || !strings.Contains(err.Error(), "Mcrouter "+defaultCRName+" not found in namespace "+ns) {
		t.Fatalf("error = %v; want the status task to report the missing Mcrouter", err)
	}
	var dep *appsv1.Deployment
	dep, err = clientset(t).AppsV1().Deployments(ns).Get(t.Context(), defaultCRName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		t.Fatalf("Deployment %s not created before the status task", defaultCRName)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(dep.OwnerReferences) != 0 {
		t.Errorf("Deployment has owner references %v; the role must leave them to the operator", dep.OwnerReferences)
	}
}

// BenchmarkRoleConverge measures one steady-state run of the role as the
// operator starts it (ansible-playbook wall time).
func BenchmarkRoleConverge(b *testing.B) {
	ns := newNamespace(b)
	createMcrouter(b, ns, "bench", map[string]any{"memcached_pool_size": 3})
	p := playbook{Path: rolePlaybook, Namespace: ns, Vars: operatorVars(getMcrouter(b, ns, "bench"))}
	p.mustRun(b)
	p.Vars = operatorVars(getMcrouter(b, ns, "bench"))
	b.ResetTimer()
	for b.Loop() {
		p.mustRun(b)
	}
}

// TestVerifyOperatorPlaybook runs molecule/shared/verify_operator.yml (the
// Kubernetes-only checks of the test-local and test-cluster scenarios) on
// objects made by the role alone: it must fail on the missing owner
// references, and pass once they and a Successful condition are there, as the
// operator leaves them.
func TestVerifyOperatorPlaybook(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	converge(t, ns, map[string]any{"memcached_pool_size": 3, "pool_setup": "replicated"})
	verifyOperator := playbook{Path: "molecule/shared/verify_operator.yml", Namespace: ns}
	_, err := verifyOperator.run(t)
	if err == nil || !strings.Contains(err.Error(), `task "Check every object is owned by the Mcrouter" failed`) ||
		!strings.Contains(err.Error(), "has no owner reference to Mcrouter "+defaultCRName) {
		t.Fatalf("verify_operator.yml on objects without owner references: %v", err)
	}

	cr := getMcrouter(t, ns, defaultCRName)
	owner := fmt.Sprintf(`{"metadata":{"ownerReferences":[{"apiVersion":"mcrouter.example.com/v1alpha3","kind":"Mcrouter","name":%q,"uid":%q}]}}`,
		cr.GetName(), cr.GetUID())
	cs := clientset(t)
	patches := []func() error{
		func() error {
			_, err := cs.AppsV1().StatefulSets(ns).Patch(t.Context(), defaultCRName+"-memcached", types.MergePatchType, []byte(owner), metav1.PatchOptions{})
			return err
		},
		func() error {
			_, err := cs.AppsV1().Deployments(ns).Patch(t.Context(), defaultCRName, types.MergePatchType, []byte(owner), metav1.PatchOptions{})
			return err
		},
		func() error {
			_, err := cs.CoreV1().ConfigMaps(ns).Patch(t.Context(), defaultCRName, types.MergePatchType, []byte(owner), metav1.PatchOptions{})
			return err
		},
		func() error {
			_, err := cs.CoreV1().Services(ns).Patch(t.Context(), defaultCRName, types.MergePatchType, []byte(owner), metav1.PatchOptions{})
			return err
		},
		func() error {
			_, err := cs.CoreV1().Services(ns).Patch(t.Context(), defaultCRName+"-memcached", types.MergePatchType, []byte(owner), metav1.PatchOptions{})
			return err
		},
	}
	for _, patch := range patches {
		if err := patch(); err != nil {
			t.Fatalf("add the owner reference: %v", err)
		}
	}
	_, err = verifyOperator.run(t)
	if err == nil || !strings.Contains(err.Error(), `task "Check the Mcrouter status reports a successful reconciliation" failed`) {
		t.Fatalf("verify_operator.yml without a Successful condition: %v", err)
	}
	conditions := []any{map[string]any{"type": "Successful", "status": "True", "reason": "Successful",
		"message": "Last reconciliation succeeded", "lastTransitionTime": "2026-01-01T00:00:00Z"}}
	if err := unstructured.SetNestedSlice(cr.Object, conditions, "status", "conditions"); err != nil {
		t.Fatal(err)
	}
	if _, err := dynamicClient(t).Resource(mcrouterGVR).Namespace(ns).UpdateStatus(t.Context(), cr, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("write the Successful condition: %v", err)
	}
	verifyOperator.mustRun(t)
}
