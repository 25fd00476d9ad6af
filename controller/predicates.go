package controller

import (
	"reflect"
	"slices"

	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/mcrouter-operator/mcrouter-operator/watches"
)

// primaryPredicates are upstream's: an update counts when the generation
// changed (or the object has none), when deletion started, and — only with
// watchAnnotationsChanges — when annotations changed; the selector filters
// every event; namespaces restrict to WATCH_NAMESPACE. Ours: a change of the
// pause or the reconcile-requested-at annotation counts too.
func primaryPredicates(w watches.Watch, namespaces []string) []predicate.Predicate {
	preds := []predicate.Predicate{predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, n := e.ObjectOld, e.ObjectNew
			switch {
			case n.GetGeneration() == 0 || n.GetGeneration() != o.GetGeneration():
				return true
			case n.GetDeletionTimestamp() != nil && o.GetDeletionTimestamp() == nil:
				return true
			case w.WatchAnnotationsChanges && !reflect.DeepEqual(o.GetAnnotations(), n.GetAnnotations()):
				return true
			case annotationChanged(o, n, AnnotationPauseReconcile), annotationChanged(o, n, AnnotationReconcileRequestedAt):
				return true
			}
			return false
		},
	}}
	if w.Selector != nil && !w.Selector.Empty() {
		sel := w.Selector
		preds = append(preds, predicate.NewPredicateFuncs(func(o client.Object) bool {
			return sel.Matches(labels.Set(o.GetLabels()))
		}))
	}
	if len(namespaces) > 0 {
		preds = append(preds, predicate.NewPredicateFuncs(func(o client.Object) bool {
			return o.GetNamespace() == "" || slices.Contains(namespaces, o.GetNamespace())
		}))
	}
	return preds
}

// annotationChanged reports whether the annotation key differs between the
// old and the new object (set, removed or changed).
func annotationChanged(o, n client.Object, key string) bool {
	ov, oldSet := o.GetAnnotations()[key]
	nv, newSet := n.GetAnnotations()[key]
	return oldSet != newSet || ov != nv
}
