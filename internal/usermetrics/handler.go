package usermetrics

import (
	"errors"
	"net/http"
)

// Path is where the endpoint takes metrics, as upstream.
const Path = "/metrics"

// Handler applies POSTed metric operations to the registry of its Options.
type Handler struct {
	opts Options
	reg  *registry
}

var _ http.Handler = (*Handler)(nil)

// NewHandler validates opts (after defaults) and returns the handler.
func NewHandler(opts Options) (*Handler, error) {
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	h := &Handler{opts: opts}
	h.reg = newRegistry(&h.opts)
	return h, nil
}

// ServeHTTP takes one metric operation per POST to Path; see the package doc.
func (h *Handler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != Path {
		http.Error(w, "not found: POST metrics to "+Path, http.StatusNotFound)
		return
	}
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method "+req.Method+" not allowed: POST a metric as JSON", http.StatusMethodNotAllowed)
		return
	}
	if err := h.serve(req); err != nil {
		code := http.StatusInternalServerError
		var re *requestError
		if errors.As(err, &re) {
			code = re.code
		}
		h.opts.Log.V(1).Info("refused user metric", "status", code, "reason", err.Error())
		http.Error(w, err.Error(), code)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (h *Handler) serve(req *http.Request) error {
	r, err := decode(req.Body, h.opts.MaxBodyBytes)
	if err != nil {
		return err
	}
	return h.reg.apply(r)
}
