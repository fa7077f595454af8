// Command pizza-peer is the benchmark peer of pizza-controller: the same controller written the
// way a Go developer would with client-go alone (shared informers, listers, a rate-limited
// workqueue, one worker). Its rules live in order.go and match src/order.c.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
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
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

var ordersGVR = schema.GroupVersionResource{Group: group, Version: "v1", Resource: "pizzaorders"}

var (
	apiRequests    uint64 // every HTTP request to the API server, watches and lists included
	reconcileTotal uint64
)

// countingTransport counts the requests that go through the rest.Config's transport.
type countingTransport struct{ next http.RoundTripper }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	atomic.AddUint64(&apiRequests, 1)
	return c.next.RoundTrip(r)
}

type controller struct {
	dyn    dynamic.Interface
	kube   kubernetes.Interface
	orders cache.GenericLister
	pods   corelisters.PodLister
	queue  workqueue.RateLimitingInterface
	resync time.Duration
}

type result int

const (
	resultResync  result = iota // done: look again after the resync period
	resultGone                  // the order is gone: forget it
	resultRequeue               // try again soon (rate limited), without an error
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig file (default: in-cluster)")
	resync := flag.Duration("resync-period", 5*time.Minute, "requeue after a successful reconcile")
	metricsAddr := flag.String("metrics-bind-address", ":8081", "/healthz and /metrics (0 disables)")
	klog.InitFlags(nil)
	flag.Parse()

	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		klog.Fatalf("kubeconfig: %v", err)
	}
	config.QPS = 50
	config.Burst = 100
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

	stop := make(chan struct{})
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sigs
		close(stop)
		<-sigs
		os.Exit(1)
	}()

	if *metricsAddr != "0" && *metricsAddr != "" {
		go serveMetrics(*metricsAddr)
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

	limiter := workqueue.NewMaxOfRateLimiter(
		workqueue.NewItemExponentialFailureRateLimiter(time.Second, 60*time.Second),
		&workqueue.BucketRateLimiter{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
	)
	c := &controller{
		dyn:    dyn,
		kube:   kube,
		orders: orderInformer.Lister(),
		pods:   podInformer.Lister(),
		queue:  workqueue.NewNamedRateLimitingQueue(limiter, "pizzaorders"),
		resync: *resync,
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
	klog.Infof("waiting for informer caches")
	if !cache.WaitForCacheSync(stop, orderInformer.Informer().HasSynced, podInformer.Informer().HasSynced) {
		klog.Fatalf("caches did not sync")
	}
	klog.Infof("caches synced; starting 1 worker")

	defer utilruntime.HandleCrash()
	go wait.Until(c.runWorker, time.Second, stop)
	<-stop
	c.queue.ShutDown()
	klog.Infof("stopping")
}

func serveMetrics(addr string) {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok\n") })
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# TYPE peer_api_requests_total counter\npeer_api_requests_total %d\n"+
			"# TYPE peer_reconcile_total counter\npeer_reconcile_total %d\n",
			atomic.LoadUint64(&apiRequests), atomic.LoadUint64(&reconcileTotal))
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
	}
	if what != "" {
		klog.Infof("reconcile ns=%s name=%s result=%s phase=%s generation=%d", ns, name, what, d.Phase, gen)
	}
	return resultResync, nil
}
