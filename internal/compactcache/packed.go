package compactcache

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/klauspost/compress/s2"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// packed is what the cache holds in place of an *unstructured.Unstructured:
// the object as compressed JSON, and the metadata the informer reads without
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
	data, err := compress(u.Object)
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
	obj, err := decompress(p.data)
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

// buffers holds the scratch space of pack and unpack: the JSON of one object.
var buffers = sync.Pool{New: func() any { return new([]byte) }}

// compress encodes obj as JSON and compresses it with S2 (Snappy's
// successor, klauspost/compress): no state kept between calls, a few
// microseconds for a Deployment; the output is a third larger than
// deflate's, which takes ten times longer and keeps half a megabyte of
// state per writer.
func compress(obj map[string]any) ([]byte, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	buf := buffers.Get().(*[]byte)
	defer buffers.Put(buf)
	if n := s2.MaxEncodedLen(len(raw)); cap(*buf) < n {
		*buf = make([]byte, n)
	}
	// The encoded block is cut from the scratch buffer: a copy of its size
	// is kept, not the buffer.
	return bytes.Clone(s2.EncodeBetter((*buf)[:cap(*buf)], raw)), nil
}

// decompress decompresses data and decodes it as the unstructured decoder
// does (integral numbers as int64, others as float64).
func decompress(data []byte) (map[string]any, error) {
	n, err := s2.DecodedLen(data)
	if err != nil {
		return nil, err
	}
	buf := buffers.Get().(*[]byte)
	defer buffers.Put(buf)
	if cap(*buf) < n {
		*buf = make([]byte, n)
	}
	raw, err := s2.Decode((*buf)[:n], data)
	if err != nil {
		return nil, err
	}
	var obj map[string]any
	if err := utiljson.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	return obj, nil
}
