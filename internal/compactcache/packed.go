package compactcache

import (
	"bytes"
	"compress/flate"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// packed is what the cache holds in place of an *unstructured.Unstructured:
// the object as deflated JSON, and the metadata the informer reads without
// unpacking — the store key (namespace, name) and, for a List with a label
// selector, the labels.
//
// Its DeepCopyObject unpacks: it returns the object packed was made from, as
// a new *unstructured.Unstructured. controller-runtime's cache reader copies
// every object it hands out with DeepCopyObject, so Get and List give full
// objects without a reader of their own (see Cache for the exception,
// UnsafeDisableDeepCopy).
type packed struct {
	metav1.TypeMeta
	metav1.ObjectMeta
	data []byte
}

var _ runtime.Object = (*packed)(nil)
var _ metav1.Object = (*packed)(nil)

// pack packs u: nil when u cannot be encoded (it is then cached as it is).
func pack(u *unstructured.Unstructured) *packed {
	data, err := deflate(u.Object)
	if err != nil {
		return nil
	}
	p := &packed{data: data}
	p.APIVersion, p.Kind = u.GetAPIVersion(), u.GetKind()
	p.Name, p.Namespace = u.GetName(), u.GetNamespace()
	if l := u.GetLabels(); len(l) > 0 {
		p.Labels = l
	}
	return p
}

// unpack decodes the object p was made from.
func (p *packed) unpack() (*unstructured.Unstructured, error) {
	obj, err := inflate(p.data)
	if err != nil {
		return nil, fmt.Errorf("unpack cached %s %s: %w", p.Kind, p.key(), err)
	}
	return &unstructured.Unstructured{Object: obj}, nil
}

// errUnpack carries an unpack failure out of DeepCopyObject, which cannot
// return one; Cache turns it back into an error.
type errUnpack struct{ err error }

// DeepCopyObject returns the object p stands for, decoded. It panics with
// errUnpack if the data does not decode, which only a defect here can
// cause: a reader must never get a partial object for a whole one.
func (p *packed) DeepCopyObject() runtime.Object {
	u, err := p.unpack()
	if err != nil {
		panic(errUnpack{err})
	}
	return u
}

func (p *packed) key() string {
	if p.Namespace == "" {
		return p.Name
	}
	return p.Namespace + "/" + p.Name
}

// unpackAny returns obj unpacked when it is packed, else obj.
func unpackAny(obj any) (any, error) {
	p, ok := obj.(*packed)
	if !ok {
		return obj, nil
	}
	return p.unpack()
}

var (
	writers = sync.Pool{New: func() any {
		w, _ := flate.NewWriter(nil, flate.BestSpeed) // a valid level: no error
		return w
	}}
	readers = sync.Pool{New: func() any { return flate.NewReader(bytes.NewReader(nil)) }}
	buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}
)

// deflate encodes obj as JSON and compresses it.
func deflate(obj map[string]any) ([]byte, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	buf := buffers.Get().(*bytes.Buffer)
	defer buffers.Put(buf)
	buf.Reset()
	w := writers.Get().(*flate.Writer)
	defer writers.Put(w)
	w.Reset(buf)
	if _, err := w.Write(raw); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return bytes.Clone(buf.Bytes()), nil
}

// inflate decompresses data and decodes it as the unstructured decoder
// does (integral numbers as int64, others as float64).
func inflate(data []byte) (map[string]any, error) {
	r := readers.Get().(io.ReadCloser)
	defer readers.Put(r)
	if err := r.(flate.Resetter).Reset(bytes.NewReader(data), nil); err != nil {
		return nil, err
	}
	buf := buffers.Get().(*bytes.Buffer)
	defer buffers.Put(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	var obj map[string]any
	if err := utiljson.Unmarshal(buf.Bytes(), &obj); err != nil {
		return nil, err
	}
	return obj, nil
}
