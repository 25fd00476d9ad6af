package proxy

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/mcrouter-operator/mcrouter-operator/proxy/internal/owner"
)

// Session describes one Ansible run that will talk to the API server through
// the proxy.
type Session struct {
	// Owner is the custom resource being reconciled.
	Owner Owner
	// Watcher is told about dependent kinds; nil when the watch has
	// watchDependentResources: false.
	Watcher DependentWatcher
	// Blacklist holds kinds that are never watched and never served from the
	// cache.
	Blacklist []schema.GroupVersionKind
	// WatchClusterScopedResources lets annotated cluster-scoped dependents get
	// a watch.
	WatchClusterScopedResources bool
	// Labels are set on every object the run creates, updates or applies
	// (with the owner link): the shard label, so that the replica that ran
	// caches what the run wrote. Default: none.
	Labels map[string]string
}

// Owner identifies the custom resource a run reconciles. Namespace is empty
// for a cluster-scoped owner.
type Owner struct {
	APIVersion, Kind, Name, Namespace string
	UID                               types.UID
}

func (o Owner) ref() owner.Ref {
	return owner.Ref{APIVersion: o.APIVersion, Kind: o.Kind, Name: o.Name, Namespace: o.Namespace, UID: o.UID}
}

// OwnerOf is the Owner of a run reconciling obj.
func OwnerOf(obj *unstructured.Unstructured) Owner {
	return Owner{APIVersion: obj.GetAPIVersion(), Kind: obj.GetKind(), Name: obj.GetName(),
		Namespace: obj.GetNamespace(), UID: obj.GetUID()}
}

// How an object is linked to an owner (Owner.Link).
const (
	LinkOwnerReference = "ownerReference" // an owner reference with the owner's UID
	LinkAnnotation     = "annotation"     // the primary-resource annotations naming the owner
)

// Link reports how obj is linked to the owner itself: LinkOwnerReference,
// LinkAnnotation, or "" when it is not.
func (o Owner) Link(obj map[string]any) string {
	switch owner.Links(obj, o.ref()) {
	case owner.Reference:
		return LinkOwnerReference
	case owner.Annotation:
		return LinkAnnotation
	}
	return ""
}

// String names the owner in logs and errors: "Kind.group namespace/name".
func (o Owner) String() string {
	if o.Namespace == "" {
		return o.ref().GroupKind().String() + " " + o.Name
	}
	return o.ref().GroupKind().String() + " " + o.Namespace + "/" + o.Name
}

func (o Owner) validate() error {
	var missing []string
	for _, f := range []struct{ name, value string }{
		{"apiVersion", o.APIVersion}, {"kind", o.Kind}, {"name", o.Name}, {"uid", string(o.UID)},
	} {
		if f.value == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("owner %s: missing %s", o, strings.Join(missing, ", "))
	}
	if _, err := schema.ParseGroupVersion(o.APIVersion); err != nil {
		return fmt.Errorf("owner %s: apiVersion: %w", o, err)
	}
	return nil
}

// WriteVerb is what a write did to an object.
type WriteVerb string

// The verbs of writes.
const (
	VerbCreate WriteVerb = "create"
	VerbUpdate WriteVerb = "update"
	// VerbPatch is a JSON, merge or strategic-merge patch: Write.PatchType
	// says which.
	VerbPatch WriteVerb = "patch"
	// VerbApply is a server-side apply: a PATCH of an apply patch type.
	VerbApply            WriteVerb = "apply"
	VerbDelete           WriteVerb = "delete"
	VerbDeleteCollection WriteVerb = "deletecollection"
)

// Write is one successful mutating request made with a credential.
type Write struct {
	// Seq orders the run's writes and reads: both count up from 1 in the
	// order their answers arrived.
	Seq             int
	GVK             schema.GroupVersionKind
	Namespace, Name string
	// Subresource is set for writes to a subresource such as "status".
	Subresource string
	// Verb is what the write did.
	Verb WriteVerb
	// ContentType is the request's media type, without parameters; "" when
	// the request had no body.
	ContentType string
	// Body is the decoded request body as forwarded, owner links included; nil
	// for JSON-patch lists, deletes and bodies that are not JSON or YAML.
	Body map[string]any
	// Object is the decoded response object, nil when the API server answered
	// with a Status or in a media type other than JSON.
	Object *unstructured.Unstructured
	// Created: the API server answered 201 Created, so this write made the
	// object (a create, or a PUT or server-side apply of an absent object);
	// never set for a dry run.
	Created bool
}

// PatchType is the patch type of a VerbPatch or VerbApply write
// (types.MergePatchType, ...): its media type. Empty for other verbs.
func (w Write) PatchType() types.PatchType {
	if w.Verb != VerbPatch && w.Verb != VerbApply {
		return ""
	}
	return types.PatchType(w.ContentType)
}

// Read is one successful GET of a single object linked to the run's owner (an
// owner reference with its UID, or the primary-resource annotations naming
// it), answered from the cache or by the API server: what the run found in
// place. Reads of unrelated objects are not recorded.
type Read struct {
	Seq             int // see Write.Seq
	GVK             schema.GroupVersionKind
	Namespace, Name string
	// Object is the object as the run read it.
	Object *unstructured.Unstructured
}

// Credential is the identity of one run: a random bearer token bound to the
// run's owner, valid until Release.
//
// The per-run kubeconfig (the wire format between the controller, Ansible and
// the proxy) has one cluster "ansible-operator-proxy" whose server is
// https://<Proxy.Addr()> (a wildcard host becomes loopback) with the proxy's
// self-signed certificate as certificate-authority-data, one user whose token
// is the credential's token, and one context, current, whose namespace is the
// owner's namespace. The proxy accepts the token only as
// "Authorization: Bearer <token>".
type Credential struct {
	proxy      *Proxy
	token      string
	session    Session
	kubeconfig []byte

	mu        sync.Mutex
	released  bool
	seq       int
	writes    []Write
	reads     []Read
	versions  map[objectKey]string // resourceVersion after this run's last write; deleted when tombstone
	onRelease map[int]func()
	nextID    int
}

// objectKey names an object by resource, namespace and name; an empty name
// stands for every object of the resource in the namespace.
type objectKey struct {
	resource  schema.GroupResource
	namespace string
	name      string
}

const tombstone = "\x00deleted"

// Register creates the credential of one run. Call Release when the run ends.
func (p *Proxy) Register(s Session) (*Credential, error) {
	if err := s.Owner.validate(); err != nil {
		return nil, err
	}
	if s.Watcher != nil && !reflect.TypeOf(s.Watcher).Comparable() {
		return nil, fmt.Errorf("run of %s: dependent watcher %T is not comparable; pass a pointer",
			s.Owner, s.Watcher)
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return nil, fmt.Errorf("run of %s: generate token: %w", s.Owner, err)
	}
	c := &Credential{
		proxy:     p,
		token:     base64.RawURLEncoding.EncodeToString(buf),
		session:   s,
		versions:  map[objectKey]string{},
		onRelease: map[int]func(){},
	}
	kc, err := kubeconfig(p.kubeconfigServer(), p.caPEM, c.token, s.Owner)
	if err != nil {
		return nil, err
	}
	c.kubeconfig = kc
	p.mu.Lock()
	defer p.mu.Unlock()
	p.credentials[c.token] = c
	return c, nil
}

func kubeconfig(server string, caPEM []byte, token string, o Owner) ([]byte, error) {
	const name = "ansible-operator-proxy"
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name, Namespace: o.Namespace}
	cfg.CurrentContext = name
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("run of %s: encode kubeconfig: %w", o, err)
	}
	return b, nil
}

// Kubeconfig returns the kubeconfig file content for the run.
func (c *Credential) Kubeconfig() []byte {
	return append([]byte(nil), c.kubeconfig...)
}

// Owner returns the owner the credential was registered for.
func (c *Credential) Owner() Owner {
	return c.session.Owner
}

// Writes returns the successful mutating requests made with the credential,
// in the order their responses arrived. Dry-run requests are not included.
func (c *Credential) Writes() []Write {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Write(nil), c.writes...)
}

// Reads returns the GETs of objects linked to the owner made with the
// credential, in the order their answers arrived.
func (c *Credential) Reads() []Read {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Read(nil), c.reads...)
}

// Release invalidates the token: later requests get 401, and requests still
// in flight (watches, exec streams) are cancelled. Safe to call twice.
func (c *Credential) Release() {
	c.proxy.forget(c.token)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.released {
		return
	}
	c.released = true
	for _, f := range c.onRelease {
		f()
	}
	c.onRelease = nil
}

// whenReleased runs f on Release (at once if already released) and returns a
// function that unregisters it.
func (c *Credential) whenReleased(f func()) (stop func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.released {
		f()
		return func() {}
	}
	id := c.nextID
	c.nextID++
	c.onRelease[id] = f
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.onRelease, id)
	}
}

func (c *Credential) record(w Write, key objectKey, version string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	w.Seq = c.seq
	c.writes = append(c.writes, w)
	if version != "" {
		c.versions[key] = version
	}
}

// recordRead appends a read of obj when it is linked to the run's owner.
func (c *Credential) recordRead(ex *exchange, obj map[string]any) {
	if obj == nil || !isKind(obj, ex.gvk) || c.session.Owner.Link(obj) == "" {
		return
	}
	u := &unstructured.Unstructured{Object: obj}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	c.reads = append(c.reads, Read{Seq: c.seq, GVK: ex.gvk, Namespace: u.GetNamespace(), Name: u.GetName(), Object: u})
}

// blacklisted reports whether gvk is on the run's blacklist.
func (c *Credential) blacklisted(gvk schema.GroupVersionKind) bool {
	for _, b := range c.session.Blacklist {
		if b == gvk {
			return true
		}
	}
	return false
}

func (p *Proxy) forget(token string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.credentials, token)
}

// authenticate returns the live credential named by the request's bearer
// token, or an error saying what is wrong with it.
func (p *Proxy) authenticate(req *http.Request) (*Credential, error) {
	h := req.Header.Get("Authorization")
	if h == "" {
		return nil, errors.New("no bearer token: use the kubeconfig of a running reconciliation")
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, errors.New("the proxy accepts only bearer tokens issued for a running reconciliation")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.credentials[strings.TrimSpace(token)]
	if !ok {
		return nil, errors.New("unknown or expired token: it belongs to no running reconciliation")
	}
	return c, nil
}
