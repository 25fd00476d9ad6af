package proxy_test

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/mcrouter-operator/mcrouter-operator/proxy"
)

// A controller registers each run, hands its kubeconfig to Ansible and
// releases it when the run ends.
func ExampleProxy_Register() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hc, _ := rest.HTTPClientFor(cluster.Config)
	mapper, _ := apiutil.NewDynamicRESTMapper(cluster.Config, hc)
	p, err := proxy.New(proxy.Options{Addr: "127.0.0.1:0", Upstream: cluster.Config, Mapper: mapper, InjectOwnerRef: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	done := make(chan error, 1)
	go func() { done <- p.Start(ctx) }()
	defer func() { cancel(); <-done }()

	// The custom resource being reconciled.
	admin, _ := client.New(cluster.Config, client.Options{})
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "example-"}}
	if err := admin.Create(ctx, ns); err != nil {
		fmt.Println(err)
		return
	}
	cr := &unstructured.Unstructured{}
	cr.SetGroupVersionKind(ownerGVK)
	cr.SetNamespace(ns.Name)
	cr.SetName("demo")
	if err := admin.Create(ctx, cr); err != nil {
		fmt.Println(err)
		return
	}

	cred, err := p.Register(proxy.Session{Owner: proxy.Owner{APIVersion: cr.GetAPIVersion(), Kind: cr.GetKind(),
		Name: cr.GetName(), Namespace: cr.GetNamespace(), UID: cr.GetUID()}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cred.Release()

	// What a role does with the kubeconfig, here with a Go client.
	cfg, _ := clientcmd.RESTConfigFromKubeConfig(cred.Kubeconfig())
	role, _ := client.New(cfg, client.Options{})
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "made-by-role"}}
	if err := role.Create(ctx, cm); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("owner:", cm.OwnerReferences[0].Kind, cm.OwnerReferences[0].Name)
	for _, w := range cred.Writes() {
		fmt.Println("write:", w.Verb, w.GVK.Kind, w.Name)
	}
	// Output:
	// owner: Owner demo
	// write: create ConfigMap made-by-role
}
