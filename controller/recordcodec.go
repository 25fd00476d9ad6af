package controller

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/mcrouter-operator/mcrouter-operator/internal/jsonvalue"
)

// The record's wire format, in the resource's status:
//
//	status:
//	  runRecord:
//	    format: 1              # recordFormat; another value is not read
//	    uid: <resource UID>    # for people; the data holds it too
//	    generation: 3          # the generation the run reconciled
//	    dependents: 5          # how many dependents the data names
//	    data: H4sI...          # base64 of gzip of the record as JSON
//
// The status is written once per run anyway (the conditions), so the record
// costs no request of its own; it is removed when a run starts and kept only
// after a run that succeeded. Whoever can write the status can only make the
// operator skip runs of that same resource, never touch another.
const (
	statusRecordKey = "runRecord"
	recordFormat    = 1
	// maxRecordData bounds the encoded record kept in status. A larger one
	// (hundreds of big dependents) is kept in memory only: a restarted
	// operator then runs the resource once.
	maxRecordData = 256 << 10
	// maxRecordJSON bounds the decompressed record read back.
	maxRecordJSON = 8 << 20
	// maxRecordDependents bounds the dependents of a record read back, and
	// so the work of each skip check.
	maxRecordDependents = 10000
)

// encodeRecord returns the status.runRecord value of rec, or nil when it is
// larger than maxRecordData.
func encodeRecord(rec *record) (map[string]any, error) {
	zipped, err := packRecord(rec)
	if err != nil {
		return nil, err
	}
	data := base64.StdEncoding.EncodeToString(zipped)
	if len(data) > maxRecordData {
		return nil, nil
	}
	return map[string]any{
		"format":     int64(recordFormat),
		"uid":        string(rec.UID),
		"generation": rec.Generation,
		"dependents": int64(len(rec.Dependents)),
		"data":       data,
	}, nil
}

// packRecord is rec as gzipped JSON: the status's data before base64, and
// the form in which the controller's memory keeps records (a record decoded
// holds its dependents' fields as maps, twenty times its packed size).
func packRecord(rec *record) ([]byte, error) {
	raw, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encode run record: %w", err)
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	// The buffer grew by doubling: the memory keeps a copy of its size.
	return bytes.Clone(buf.Bytes()), nil
}

// unpackRecord decodes what packRecord made, at most maxRecordJSON bytes of
// JSON.
func unpackRecord(zipped []byte) (*record, error) {
	zr, err := gzip.NewReader(bytes.NewReader(zipped))
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(zr, maxRecordJSON+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > maxRecordJSON {
		return nil, fmt.Errorf("unpacks to more than %d bytes", maxRecordJSON)
	}
	rec := &record{}
	if err := json.Unmarshal(raw, rec); err != nil {
		return nil, err
	}
	return rec, nil
}

// errNoRecord: the status holds no run record.
var errNoRecord = errors.New("no run record in status")

// decodeRecord reads status.runRecord of obj. Anything unexpected — another
// format, data that does not decode, a record of another object — is an
// error, and the caller runs.
func decodeRecord(obj *unstructured.Unstructured) (*record, error) {
	v, found, err := unstructured.NestedFieldNoCopy(obj.Object, "status", statusRecordKey)
	if err != nil || !found || v == nil {
		return nil, errNoRecord
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("status.%s is a %T, not an object", statusRecordKey, v)
	}
	if f, ok := jsonvalue.Number(m["format"]); !ok || f != recordFormat {
		return nil, fmt.Errorf("status.%s.format is %v, this operator reads %d", statusRecordKey, m["format"], recordFormat)
	}
	data, _ := m["data"].(string)
	if data == "" || len(data) > maxRecordData {
		return nil, fmt.Errorf("status.%s.data is empty or longer than %d bytes", statusRecordKey, maxRecordData)
	}
	zipped, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return nil, fmt.Errorf("status.%s.data: %w", statusRecordKey, err)
	}
	rec, err := unpackRecord(zipped)
	if err != nil {
		return nil, fmt.Errorf("status.%s.data: %w", statusRecordKey, err)
	}
	if rec.UID != obj.GetUID() {
		return nil, fmt.Errorf("status.%s is the record of UID %q, not of this object (%q)", statusRecordKey, rec.UID, obj.GetUID())
	}
	if len(rec.Dependents) > maxRecordDependents {
		return nil, fmt.Errorf("status.%s names %d dependents, more than %d", statusRecordKey, len(rec.Dependents), maxRecordDependents)
	}
	for _, d := range rec.Dependents {
		if d.Kind == "" || d.Name == "" || (!d.Deleted && d.UID == "") {
			return nil, fmt.Errorf("status.%s names a dependent without kind, name or UID", statusRecordKey)
		}
		if isSecret(d) && !d.Deleted && d.SecretData == "" {
			return nil, fmt.Errorf("status.%s names a Secret without the digest of its data", statusRecordKey)
		}
	}
	return rec, nil
}
