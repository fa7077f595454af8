// Command pizza-peer is the benchmark peer of pizza-controller: the same controller written the
// way a Go developer would with client-go alone (shared informers, listers, a rate-limited
// workqueue, one worker by default). Its rules live in order.go and match src/order.c.
//
// Throttling is chosen by flags, so one binary runs both configurations of bench/run.sh:
//   unthrottled (the default): --qps -1 (client-go's rest.Config: a QPS below zero creates no
//     client-side rate limiter at all, see RESTClientFor and kubernetes.NewForConfig) and a
//     workqueue that only backs off per item after failures (no bucket limiter);
//   controller-runtime's defaults: --qps 20 --burst 30 --queue-bucket (what controller-runtime
//     sets on a rest.Config whose QPS is 0, and DefaultControllerRateLimiter: the max of a per-item
//     exponential backoff 5ms..1000s and a 10/s, burst 100 bucket).
// As in controller-runtime, each client made from the config has a token bucket of its own: the
// dynamic client (PizzaOrders), the clientset (Pods) and, with --events, the recorder's clientset.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

var ordersGVR = schema.GroupVersionResource{Group: group, Version: "v1", Resource: "pizzaorders"}

var (
	apiRequests    uint64 // every HTTP request to the API server, watches and lists included
	reconcileTotal uint64
	eventsTotal    uint64 // events handed to the recorder (it may aggregate or drop some)

	// requests by verb and resource, for the breakdown in /metrics
	byKindMu sync.Mutex
	byKind   = map[string]uint64{}
)

// countingTransport counts the requests that go through the rest.Config's transport (every client
// made from the config, the event recorder's included).
type countingTransport struct{ next http.RoundTripper }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	atomic.AddUint64(&apiRequests, 1)
	k := requestKind(r)
	byKindMu.Lock()
	byKind[k]++
	byKindMu.Unlock()
	return c.next.RoundTrip(r)
}

// requestKind: `verb="...",resource="..."`, the labels of peer_api_requests_by_kind_total.
func requestKind(r *http.Request) string {
	verb := strings.ToLower(r.Method)
	if r.Method == http.MethodGet {
		verb = "get"
		if r.URL.Query().Get("watch") == "true" || r.URL.Query().Get("watch") == "1" {
			verb = "watch"
		} else if !strings.Contains(r.URL.Path, "/namespaces/") ||
			strings.HasSuffix(r.URL.Path, "/pods") || strings.HasSuffix(r.URL.Path, "/pizzaorders") {
			verb = "list"
		}
	}
	res := "other"
	switch p := r.URL.Path; {
	case strings.Contains(p, "/pizzaorders") && strings.HasSuffix(p, "/status"):
		res = "pizzaorders/status"
	case strings.Contains(p, "/pizzaorders"):
		res = "pizzaorders"
	case strings.Contains(p, "/pods"):
		res = "pods"
	case strings.Contains(p, "/events"):
		res = "events"
	}
	return fmt.Sprintf("verb=%q,resource=%q", verb, res)
}

type controller struct {
	dyn      dynamic.Interface
	kube     kubernetes.Interface
	orders   cache.GenericLister
	pods     corelisters.PodLister
	queue    workqueue.RateLimitingInterface
	resync   time.Duration
	recorder record.EventRecorder // nil without --events
}

type result int

const (
	resultResync  result = iota // done: look again after the resync period
	resultGone                  // the order is gone: forget it
	resultRequeue               // try again soon (rate limited), without an error
)

// limiterState: what the bench prints to prove the configuration ("none" means requests are never
// delayed on the client side).
var limiterState = map[string]string{}

func describeLimiter(name string, rc rest.Interface) {
	if l := rc.GetRateLimiter(); l == nil {
		limiterState[name] = "none"
	} else {
		limiterState[name] = fmt.Sprintf("qps=%g", l.QPS())
	}
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig file (default: in-cluster)")
	resync := flag.Duration("resync-period", 5*time.Minute, "requeue after a successful reconcile")
	metricsAddr := flag.String("metrics-bind-address", ":8081", "/healthz and /metrics (0 disables)")
	qps := flag.Float64("qps", -1, "rest.Config QPS: below 0 no client-side rate limiter at all (controller-runtime: 20)")
	burst := flag.Int("burst", 0, "rest.Config Burst (controller-runtime: 30); needed when --qps > 0")
	queueBucket := flag.Bool("queue-bucket", false,
		"add the workqueue's overall 10/s, burst 100 bucket to the per-item backoff (controller-runtime's DefaultControllerRateLimiter)")
	queueBase := flag.Duration("queue-base-delay", 5*time.Millisecond, "per-item failure backoff: first delay (controller-runtime: 5ms)")
	queueMax := flag.Duration("queue-max-delay", 1000*time.Second, "per-item failure backoff: cap (controller-runtime: 1000s)")
	workers := flag.Int("workers", 1, "concurrent reconciles (controller-runtime's MaxConcurrentReconciles, default 1)")
	events := flag.Bool("events", false,
		"record Kubernetes Events on the orders (OvenCreated, Baking, Baked; warnings InvalidSpec, OvenFailed, ReconcileError)")
	klog.InitFlags(nil)
	flag.Parse()
	if *workers < 1 {
		klog.Fatalf("--workers must be at least 1")
	}
	if *qps > 0 && *burst <= 0 {
		klog.Fatalf("--burst must be above 0 when --qps is above 0")
	}

	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		klog.Fatalf("kubeconfig: %v", err)
	}
	config.QPS = float32(*qps)
	config.Burst = *burst
	config.UserAgent = "pizza-peer"
	config.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &countingTransport{next: rt} })

	dyn, err := dynamic.NewForConfig(config)
	if err != nil {
		klog.Fatalf("dynamic client: %v", err)
	}
	kube, err := kubernetes.NewForConfig(config)
	if err != nil {
		klog.Fatalf("clientset: %v", err)
	}
	// The dynamic client keeps its RESTClient private: rebuild one the way dynamic.NewForConfig
	// does (same config, same RESTClientFor) to show the limiter it got.
	dcfg := dynamic.ConfigFor(config)
	dcfg.GroupVersion = &schema.GroupVersion{}
	dcfg.APIPath = "/apis"
	if rc, err := rest.RESTClientFor(dcfg); err == nil {
		describeLimiter("dynamic", rc)
	}
	describeLimiter("clientset", kube.CoreV1().RESTClient())

	stop := make(chan struct{})
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sigs
		close(stop)
		<-sigs
		os.Exit(1)
	}()

	var recorder record.EventRecorder
	if *events {
		// As controller-runtime's recorder provider: a clientset of its own for the sink, and the
		// standard broadcaster (correlator: aggregation, spam filter, count patches).
		evKube, err := kubernetes.NewForConfig(config)
		if err != nil {
			klog.Fatalf("event clientset: %v", err)
		}
		describeLimiter("events", evKube.CoreV1().RESTClient())
		broadcaster := record.NewBroadcaster()
		broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: evKube.CoreV1().Events("")})
		defer broadcaster.Shutdown()
		recorder = broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: manager})
	}

	// Resync of the informers stays off: the workqueue's AddAfter brings each order back after
	// --resync-period, as the C controller does.
	dynFactory := dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0)
	orderInformer := dynFactory.ForResource(ordersGVR)
	podFactory := informers.NewSharedInformerFactoryWithOptions(kube, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.LabelSelector = labelManagedBy + "=" + manager
		}))
	podInformer := podFactory.Core().V1().Pods()

	var limiter workqueue.RateLimiter = workqueue.NewItemExponentialFailureRateLimiter(*queueBase, *queueMax)
	queueDesc := fmt.Sprintf("per-item backoff %gs..%gs", queueBase.Seconds(), queueMax.Seconds())
	if *queueBucket {
		limiter = workqueue.NewMaxOfRateLimiter(limiter,
			&workqueue.BucketRateLimiter{Limiter: rate.NewLimiter(rate.Limit(10), 100)})
		queueDesc += " + bucket 10/s burst 100"
	}
	limiterState["queue"] = queueDesc
	c := &controller{
		dyn:      dyn,
		kube:     kube,
		orders:   orderInformer.Lister(),
		pods:     podInformer.Lister(),
		queue:    workqueue.NewNamedRateLimitingQueue(limiter, "pizzaorders"),
		resync:   *resync,
		recorder: recorder,
	}

	// limiterState is complete: from here on it is only read
	if *metricsAddr != "0" && *metricsAddr != "" {
		go serveMetrics(*metricsAddr)
	}

	orderInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueOrder,
		UpdateFunc: func(_, obj interface{}) { c.enqueueOrder(obj) },
		DeleteFunc: c.enqueueOrder,
	})
	podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueuePodOwner,
		UpdateFunc: func(_, obj interface{}) { c.enqueuePodOwner(obj) },
		DeleteFunc: c.enqueuePodOwner,
	})

	dynFactory.Start(stop)
	podFactory.Start(stop)
	klog.Infof("client-side limiters: %s; events %v; waiting for informer caches", limiterSummary(), *events)
	if !cache.WaitForCacheSync(stop, orderInformer.Informer().HasSynced, podInformer.Informer().HasSynced) {
		klog.Fatalf("caches did not sync")
	}
	klog.Infof("caches synced; starting %d worker(s)", *workers)

	defer utilruntime.HandleCrash()
	for i := 0; i < *workers; i++ {
		go wait.Until(c.runWorker, time.Second, stop)
	}
	<-stop
	c.queue.ShutDown()
	klog.Infof("stopping")
}

func limiterSummary() string {
	keys := make([]string, 0, len(limiterState))
	for k := range limiterState {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+limiterState[k])
	}
	return strings.Join(parts, "; ")
}

func serveMetrics(addr string) {
	summary := limiterSummary() // fixed once the clients exist
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok\n") })
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# TYPE peer_api_requests_total counter\npeer_api_requests_total %d\n"+
			"# TYPE peer_reconcile_total counter\npeer_reconcile_total %d\n"+
			"# TYPE peer_events_recorded_total counter\npeer_events_recorded_total %d\n",
			atomic.LoadUint64(&apiRequests), atomic.LoadUint64(&reconcileTotal), atomic.LoadUint64(&eventsTotal))
		byKindMu.Lock()
		keys := make([]string, 0, len(byKind))
		for k := range byKind {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprint(w, "# TYPE peer_api_requests_by_kind_total counter\n")
		for _, k := range keys {
			fmt.Fprintf(w, "peer_api_requests_by_kind_total{%s} %d\n", k, byKind[k])
		}
		byKindMu.Unlock()
		fmt.Fprintf(w, "# client-side limiters: %s\n", summary)
	})
	if err := http.ListenAndServe(addr, mux); err != nil {
		klog.Fatalf("metrics server: %v", err)
	}
}

func (c *controller) enqueueOrder(obj interface{}) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	c.queue.Add(key)
}

func (c *controller) enqueuePodOwner(obj interface{}) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if order := pod.Labels[labelOrder]; order != "" {
		c.queue.Add(pod.Namespace + "/" + order)
	}
}

func (c *controller) runWorker() {
	for c.processNextItem() {
	}
}

func (c *controller) processNextItem() bool {
	item, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(item)
	key := item.(string)
	atomic.AddUint64(&reconcileTotal, 1)
	res, err := c.reconcile(key)
	switch {
	case err != nil:
		klog.Errorf("reconcile %s: %v (failures so far: %d)", key, err, c.queue.NumRequeues(key))
		c.eventOnKey(key, corev1.EventTypeWarning, "ReconcileError", err.Error())
		c.queue.AddRateLimited(key)
	case res == resultRequeue:
		c.queue.AddRateLimited(key)
	case res == resultGone:
		c.queue.Forget(key)
	default:
		c.queue.Forget(key)
		c.queue.AddAfter(key, c.resync)
	}
	return true
}

// event records an Event on the order (with --events).
func (c *controller) event(order *unstructured.Unstructured, kind, reason, msg string) {
	if c.recorder == nil {
		return
	}
	atomic.AddUint64(&eventsTotal, 1)
	c.recorder.Event(order, kind, reason, msg)
}

func (c *controller) eventOnKey(key, kind, reason, msg string) {
	if c.recorder == nil {
		return
	}
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return
	}
	if obj, err := c.orders.ByNamespace(ns).Get(name); err == nil {
		if order, ok := obj.(*unstructured.Unstructured); ok {
			c.event(order, kind, reason, msg)
		}
	}
}

func (c *controller) reconcile(key string) (result, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return resultGone, nil
	}
	obj, err := c.orders.ByNamespace(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return resultGone, nil
	}
	if err != nil {
		return 0, err
	}
	order, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return resultGone, nil
	}
	gen := order.GetGeneration()
	uid := order.GetUID()
	spec, specErr := validateSpec(order)
	obs := readStatus(order)

	pod, err := c.pods.Pods(ns).Get(name + podSuffix)
	if apierrors.IsNotFound(err) {
		pod = nil
	} else if err != nil {
		return 0, err
	}

	d := decide(name, gen, uid, specErr, spec, pod, obs)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	what := ""
	switch d.Action {
	case actCreatePod:
		_, err := c.kube.CoreV1().Pods(ns).Create(ctx, ovenPod(ns, name, gen, uid, spec), metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return resultRequeue, nil // the cache has not seen it yet
		}
		if err != nil {
			return 0, fmt.Errorf("create-pod: %v", err)
		}
		c.event(order, corev1.EventTypeNormal, "OvenCreated", fmt.Sprintf("created oven Pod %s", name+podSuffix))
		what = "pod-created"
	case actDeletePod:
		err := c.kube.CoreV1().Pods(ns).Delete(ctx, name+podSuffix, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return 0, fmt.Errorf("delete-pod: %v", err)
		}
		what = "pod-deleted"
	}
	if d.WriteStatus {
		now := time.Now().UTC().Format("2006-01-02T15:04:05Z")
		body, err := json.Marshal(buildStatusPatch(d, gen, obs, now))
		if err != nil {
			return 0, err
		}
		_, err = c.dyn.Resource(ordersGVR).Namespace(ns).Patch(ctx, name, types.MergePatchType, body,
			metav1.PatchOptions{}, "status")
		if apierrors.IsNotFound(err) {
			return resultGone, nil
		}
		if err != nil {
			return 0, fmt.Errorf("update-status: %v", err)
		}
		if what == "" {
			what = "status-updated"
		}
		c.statusEvent(order, d, obs)
	}
	if what != "" {
		klog.V(2).Infof("reconcile ns=%s name=%s result=%s phase=%s generation=%d", ns, name, what, d.Phase, gen)
	}
	return resultResync, nil
}

// statusEvent: the Event of a status change just written, once per transition (a rewrite of the
// same reason, e.g. after a resync, records nothing).
func (c *controller) statusEvent(order *unstructured.Unstructured, d decision, obs observedStatus) {
	if obs.ReadyReason == d.Reason && obs.Message == d.Message {
		return
	}
	switch d.Reason {
	case "Baking":
		c.event(order, corev1.EventTypeNormal, "Baking", d.Message)
	case "Baked":
		c.event(order, corev1.EventTypeNormal, "Baked", d.Message)
	case "InvalidSpec":
		c.event(order, corev1.EventTypeWarning, "InvalidSpec", d.Message)
	case "OvenFailed":
		c.event(order, corev1.EventTypeWarning, "OvenFailed", d.Message)
	}
}
