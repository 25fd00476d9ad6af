// Package usermetrics serves the endpoint through which roles publish their
// own Prometheus metrics: the operator_sdk.util.osdk_metric module POSTs one
// counter, gauge, histogram or summary operation as JSON to
// http://localhost:5050/metrics, as for operator-framework's ansible-operator,
// and the metric joins the operator's own on its /metrics (controller-runtime's
// registry).
//
// It sits beside the proxy, outside the path watch event → controller →
// runner → proxy: a role's task reaches it directly over loopback. Any
// process that can reach the address can write metrics, so the address must
// be loopback and every request is bounded: body size, metric and label name
// syntax and length, label count and value length, the number of series in
// all. A name the runtime uses (or reserves, by prefix), a second type or a
// second label set for one name is refused. A refusal is an HTTP 4xx whose
// text/plain body the module shows as the task's failure message.
//
// Wire format (one JSON object per POST, unknown keys refused):
//
//	{"name": "my_things_total", "description": "help text",
//	 "labels": {"kind": "a"},                          // optional; our extension
//	 "counter":   {"increment": true, "add": null}     // or
//	 "gauge":     {"set": 2, "increment": null, "decrement": null,
//	               "add": null, "subtract": null, "set_to_current_time": null}  // or
//	 "histogram": {"observe": 0.5}                     // or
//	 "summary":   {"observe": 0.5}}
//
// Unset operation fields are null or absent. Exactly one of counter, gauge,
// histogram and summary; within it the first operation set, in the order
// increment, decrement, add, subtract, set, set_to_current_time (upstream's
// precedence), is applied; none set only creates the series. The answer to a
// success is 200 with an empty body.
package usermetrics
