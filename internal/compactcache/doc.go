// Package compactcache keeps the objects of controller-runtime's informer
// cache packed: each unstructured object is held as its JSON, compressed
// with a dictionary of its kind (the JSON of another object of that kind),
// beside the few metadata fields the informer itself reads (name, namespace,
// labels), and is decoded again whenever it leaves the cache — by Get, by
// List, to an event handler, to an index function. In the path watch event →
// controller → runner → proxy it sits under both ends that read the cache:
// the controller (the resource it reconciles, the dependents the skip check
// compares) and the proxy (the GETs and LISTs of a role answered from the
// cache).
//
// Why: an unstructured object is a tree of small maps, and a Go map costs
// hundreds of bytes however few its entries. The Mcrouter role's Deployment
// (testdata/deployment.json, 4.5 KB of JSON) takes about 17 KB of heap as
// the watch decodes it, 0.7 KB packed with the dictionary of Deployments,
// struct and labels included (2.7 KB without a dictionary). Before this
// package the informer cache held about 60 KB of the operator's 90 KB of heap
// per Mcrouter (its CR and five dependents).
//
// What stays the same: every object read out is the object the API server
// sent, as decoded before (managedFields aside, which the operator's cache
// transform drops). Nothing else is removed, so the proxy may keep answering a
// role's reads from the cache: the content is the API server's. The JSON
// round trip keeps strings, booleans, nulls, maps and lists as they were and
// numbers as the unstructured decoder types them (int64 when integral, else
// float64) — a float that is integral, such as 2.0, comes back as int64 2,
// which encodes to the same JSON.
//
// The price is CPU: packing on every watch event (encode and compress) and
// unpacking on every read and event delivered (decompress and decode), each
// about 0.1 ms for that Deployment on a 2-core machine, three times the deep
// copy the plain cache makes of every object it hands out.
package compactcache
