package shard

import (
	"context"
	"fmt"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
)

// View is every resource of one watch, as metadata only and trimmed to what
// planning needs (about 200 bytes each): each replica sees all of them to
// balance, while its controller caches only its own share.
type View struct {
	informers []cache.SharedIndexInformer
}

// NewView watches the resources of gvr in namespaces (none: all) that
// match selector (nil: all).
func NewView(client metadata.Interface, gvr schema.GroupVersionResource, namespaces []string, selector labels.Selector) (*View, error) {
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	v := &View{}
	for _, ns := range namespaces {
		inf := metadatainformer.NewFilteredMetadataInformer(client, gvr, ns, 0, cache.Indexers{},
			func(o *metav1.ListOptions) {
				if selector != nil && !selector.Empty() {
					o.LabelSelector = selector.String()
				}
			}).Informer()
		if err := inf.SetTransform(trim); err != nil {
			return nil, fmt.Errorf("view of %s: %w", gvr, err)
		}
		v.informers = append(v.informers, inf)
	}
	return v, nil
}

// trim keeps what Plan and a claim need.
func trim(obj any) (any, error) {
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return obj, nil
	}
	out := &metav1.PartialObjectMetadata{TypeMeta: m.TypeMeta, ObjectMeta: metav1.ObjectMeta{
		Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
	}}
	if owner, ok := m.Labels[Label]; ok {
		out.Labels = map[string]string{Label: owner}
	}
	return out, nil
}

// Start runs the informers until ctx ends; it returns at once.
func (v *View) Start(ctx context.Context, wg *sync.WaitGroup) {
	for _, inf := range v.informers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inf.RunWithContext(ctx)
		}()
	}
}

// Synced reports whether every informer has listed once.
func (v *View) Synced() bool {
	for _, inf := range v.informers {
		if !inf.HasSynced() {
			return false
		}
	}
	return true
}

// Items lists the resources with their resourceVersions (by key).
func (v *View) Items() ([]Item, map[string]string) {
	var items []Item
	versions := map[string]string{}
	for _, inf := range v.informers {
		for _, o := range inf.GetStore().List() {
			m, ok := o.(*metav1.PartialObjectMetadata)
			if !ok {
				continue
			}
			key := m.Namespace + "/" + m.Name
			items = append(items, Item{Key: key, UID: string(m.UID), Owner: m.Labels[Label]})
			versions[key] = m.ResourceVersion
		}
	}
	return items, versions
}
