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
	dict *s2.Dict // the dictionary data was compressed with; nil: none
}

var _ runtime.Object = (*packed)(nil)
var _ metav1.Object = (*packed)(nil)

// unpack decodes the object p was made from.
func (p *packed) unpack() (*unstructured.Unstructured, error) {
	obj, err := decompress(p.data, p.dict)
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

// packer packs the objects of one cache. Objects of one kind are much
// alike (the same keys, labels, images, the same last-applied annotation
// repeating the same template), so each is compressed with a dictionary of
// its kind: the JSON of an object of that kind seen before. The Mcrouter
// role's Deployment takes 0.4 KB so, 2 KB without. Secrets are compressed
// without: a dictionary stays in memory after the object it was made of.
type packer struct {
	mu    sync.Mutex
	dicts map[string]*kindDict // by apiVersion and kind
}

// kindDict is the dictionary of a kind. It is the first object of the kind
// seen, replaced by one at least twice its size, up to maxDictChanges times:
// a CR's first version holds no status yet, its later ones do. Objects keep
// the dictionary they were packed with; each new version of an object is
// packed with the current one.
type kindDict struct {
	dict    *s2.Dict
	size    int
	changes int
}

// maxDictChanges bounds how often a kind's dictionary is replaced, and so
// the dictionaries still referenced by objects packed with older ones (each
// at most s2.MaxDictSize bytes and a 32 KB table).
const maxDictChanges = 3

func newPacker() *packer { return &packer{dicts: map[string]*kindDict{}} }

// pack packs u: nil when u cannot be encoded (it is then cached as it is).
func (pk *packer) pack(u *unstructured.Unstructured) *packed {
	raw, err := json.Marshal(u.Object)
	if err != nil {
		return nil
	}
	p := &packed{}
	if !isSecret(u) {
		p.dict = pk.dictFor(u.GetAPIVersion()+" "+u.GetKind(), raw)
	}
	p.data = compress(raw, p.dict)
	p.APIVersion, p.Kind = u.GetAPIVersion(), u.GetKind()
	p.Name, p.Namespace = u.GetName(), u.GetNamespace()
	if l := u.GetLabels(); len(l) > 0 {
		p.Labels = l
	}
	return p
}

// isSecret tells a Secret: its values must not outlive it in a dictionary.
func isSecret(u *unstructured.Unstructured) bool {
	return u.GetAPIVersion() == "v1" && u.GetKind() == "Secret"
}

// dictFor returns the dictionary of kind, first making one of raw when
// the kind has none or raw is at least twice the size of its own (see
// kindDict). Nil when raw is too short to make one.
func (pk *packer) dictFor(kind string, raw []byte) *s2.Dict {
	pk.mu.Lock()
	defer pk.mu.Unlock()
	k := pk.dicts[kind]
	if k != nil && (k.changes >= maxDictChanges || len(raw) < 2*k.size) {
		return k.dict
	}
	// A dictionary is at most MaxDictSize bytes: the last ones. MakeDict
	// keeps data when it has room for 16 bytes more, else copies it.
	tail := raw[max(0, len(raw)-s2.MaxDictSize):]
	data := make([]byte, len(tail), len(tail)+16)
	copy(data, tail)
	d := s2.MakeDict(data, raw[:min(len(raw), 16)])
	if d == nil {
		return k.dictOrNil()
	}
	if k == nil {
		pk.dicts[kind] = &kindDict{dict: d, size: len(data)}
	} else {
		k.dict, k.size, k.changes = d, len(data), k.changes+1
	}
	return d
}

func (k *kindDict) dictOrNil() *s2.Dict {
	if k == nil {
		return nil
	}
	return k.dict
}

// buffers holds the scratch space of compress and decompress.
var buffers = sync.Pool{New: func() any { return new([]byte) }}

// compress compresses raw with S2 (Snappy's successor, klauspost/compress)
// and dict (nil: none): no state kept between calls, a few microseconds for
// a Deployment, where deflate takes ten times longer, keeps half a megabyte
// of state per writer and takes no dictionary as cheaply.
func compress(raw []byte, dict *s2.Dict) []byte {
	buf := buffers.Get().(*[]byte)
	defer buffers.Put(buf)
	if n := s2.MaxEncodedLen(len(raw)); cap(*buf) < n {
		*buf = make([]byte, n)
	}
	var out []byte
	if dict != nil {
		out = dict.Encode((*buf)[:cap(*buf)], raw)
	} else {
		out = s2.EncodeBetter((*buf)[:cap(*buf)], raw)
	}
	// The block is cut from the scratch buffer: a copy of its size is kept.
	return bytes.Clone(out)
}

// decompress decompresses data with dict and decodes it as the
// unstructured decoder does (integral numbers as int64, others as float64).
func decompress(data []byte, dict *s2.Dict) (map[string]any, error) {
	n, err := s2.DecodedLen(data)
	if err != nil {
		return nil, err
	}
	buf := buffers.Get().(*[]byte)
	defer buffers.Put(buf)
	if cap(*buf) < n {
		*buf = make([]byte, n)
	}
	var raw []byte
	if dict != nil {
		raw, err = dict.Decode((*buf)[:n], data)
	} else {
		raw, err = s2.Decode((*buf)[:n], data)
	}
	if err != nil {
		return nil, err
	}
	var obj map[string]any
	if err := utiljson.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	return obj, nil
}
