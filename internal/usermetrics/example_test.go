package usermetrics_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mcrouter-operator/mcrouter-operator/internal/usermetrics"
)

// A role's osdk_metric task POSTs one operation; the metric joins the
// registry that the operator's /metrics serves.
func ExampleNewHandler() {
	reg := prometheus.NewRegistry()
	h, err := usermetrics.NewHandler(usermetrics.Options{Registry: reg})
	if err != nil {
		panic(err)
	}
	for _, body := range []string{
		`{"name": "backups_total", "description": "Backups taken", "counter": {"increment": true, "add": null}}`,
		`{"name": "backups_total", "description": "Backups taken", "gauge": {"set": 1}}`,
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, usermetrics.Path, strings.NewReader(body)))
		fmt.Println(strings.TrimSpace(fmt.Sprint(rec.Code, " ", rec.Body.String())))
	}
	families, _ := reg.Gather()
	for _, f := range families {
		fmt.Println(f.GetName(), f.GetMetric()[0].GetCounter().GetValue())
	}
	// Output:
	// 200
	// 409 metric "backups_total" is a counter; it cannot be used as a gauge
	// backups_total 1
}
