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
