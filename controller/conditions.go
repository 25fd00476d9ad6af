package controller

// Condition types, reasons and messages written to the status of a watched
// resource. Types, reasons and messages match upstream ansible-operator so that
// clients reading them (kubectl wait, dashboards, scripts) keep working.
const (
	TypeRunning    = "Running"
	TypeSuccessful = "Successful"
	TypeFailure    = "Failure"

	ReasonRunning    = "Running"
	ReasonSuccessful = "Successful"
	ReasonFailed     = "Failed"

	MessageRunning          = "Running reconciliation"
	MessageAwaiting         = "Awaiting next reconciliation"
	MessageSucceeded        = "Last reconciliation succeeded"
	MessageFailedRetrying   = "Last reconciliation failed; retrying"
	MessageRefused          = "Not run: the resource is refused; change it to reconcile again"
	MessageNotYetSuccessful = "Reconciliation has not succeeded yet"
)

// The conditions GitOps tools read (kstatus, sigs.k8s.io/cli-utils): Ready
// True once the resource's current generation was reconciled successfully;
// Reconciling True while a run of a generation not yet reconciled is under
// way (kstatus: InProgress); Stalled True when the last run of the current
// generation failed (kstatus: Failed). status.observedGeneration names the
// generation the last finished run reconciled, so that a spec change reads
// InProgress before its run starts. Upstream writes none of them.
const (
	TypeReady       = "Ready"
	TypeReconciling = "Reconciling"
	TypeStalled     = "Stalled"

	ReasonReconciling = "Reconciling"

	MessageReconcilingGeneration = "Reconciling generation %d"
)

// ownReadyReasons are the reasons the runtime writes on Ready. A Ready
// condition with another reason was written by the role (k8s_status); the
// runtime then leaves Ready to the role.
var ownReadyReasons = map[string]bool{ReasonSuccessful: true, ReasonFailed: true, ReasonReconciling: true}

// Event reasons for Kubernetes Events on the watched resource.
const (
	EventReconcileFailed   = "ReconcileFailed"
	EventFinalizerFailed   = "FinalizerFailed"
	EventStatusUnavailable = "StatusSubresourceMissing"
	EventBadAnnotation     = "InvalidAnnotation"
	EventRefused           = "InvalidSpec"
)

// Annotations read on the watched resource (upstream names).
const (
	AnnotationReconcilePeriod    = "ansible.sdk.operatorframework.io/reconcile-period"
	AnnotationVerbosity          = "ansible.sdk.operatorframework.io/verbosity"
	AnnotationMaxRunnerArtifacts = "ansible.sdk.operatorframework.io/max-runner-artifacts"
)

// Pause (ours): the annotation stops every run of the resource, finalizer
// included, until it is removed; the Paused condition says so.
const (
	AnnotationPauseReconcile = "ansible.sdk.operatorframework.io/pause-reconcile"

	TypePaused    = "Paused"
	ReasonPaused  = "Paused"
	ReasonResumed = "Resumed"

	MessagePaused  = "Not reconciled: the annotation " + AnnotationPauseReconcile + ` is "true"; remove it to resume`
	MessageResumed = "Reconciliation resumed"
)

// A run on request (ours): a new value of the annotation starts one run
// even when nothing changed; status.lastHandledReconcileAt names the value
// the last run served.
const (
	AnnotationReconcileRequestedAt = "ansible.sdk.operatorframework.io/reconcile-requested-at"
	statusHandledRequestKey        = "lastHandledReconcileAt"
	// maxRequestBytes bounds the value copied into status and memory.
	maxRequestBytes = 256
)
