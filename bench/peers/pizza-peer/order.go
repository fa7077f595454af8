package main

// The PizzaOrder rules, the same as src/order.c of the C controller: spec validation, the
// decision table, the oven Pod and the status body. No I/O here.

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

const (
	group           = "pizzeria.example.com"
	orderAPIVersion = group + "/v1"
	orderKind       = "PizzaOrder"
	labelOrder      = group + "/order"
	labelGeneration = group + "/generation"
	labelManagedBy  = "app.kubernetes.io/managed-by"
	manager         = "pizza-controller"
	podSuffix       = "-oven"

	maxToppings = 10
	ovenImage   = "busybox:1.36"
	ovenCommand = "echo \"baking a $PIZZA_SIZE pizza with ${PIZZA_TOPPINGS:-no toppings}\"; " +
		"sleep \"$BAKE_SECONDS\"; echo done"
	bakeSecondsSmall = 10
)

var (
	toppingRE    = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
	toppingLimit = map[string]int{"small": 3, "medium": 6, "large": 10}
	sizeFactor   = map[string]int{"small": 1, "medium": 2, "large": 3}
)

// orderSpec is a validated spec.
type orderSpec struct {
	Size     string
	Toppings []string
}

// validateSpec returns the spec, or the message telling what is wrong with it.
func validateSpec(u *unstructured.Unstructured) (orderSpec, string) {
	var s orderSpec
	raw, ok := u.Object["spec"]
	spec, isMap := raw.(map[string]interface{})
	if !ok || !isMap {
		return s, "spec is missing"
	}
	sz, ok := spec["size"]
	if !ok {
		return s, "spec.size is required"
	}
	size, _ := sz.(string)
	if _, known := toppingLimit[size]; !known {
		return s, "spec.size must be one of small, medium, large"
	}
	s.Size = size
	tv, ok := spec["toppings"]
	if !ok || tv == nil {
		return s, ""
	}
	list, isList := tv.([]interface{})
	if !isList {
		return s, "spec.toppings must be a list of strings"
	}
	if len(list) > maxToppings {
		return s, fmt.Sprintf("spec.toppings has %d entries, at most %d are allowed", len(list), maxToppings)
	}
	seen := make(map[string]int, len(list))
	for i, v := range list {
		t, isStr := v.(string)
		if !isStr {
			return s, "spec.toppings must be a list of strings"
		}
		if !toppingRE.MatchString(t) {
			return s, fmt.Sprintf("spec.toppings[%d] must be 1-32 characters of a-z, 0-9 and '-', starting with a letter", i)
		}
		if j, dup := seen[t]; dup {
			return s, fmt.Sprintf("spec.toppings[%d] repeats spec.toppings[%d]", i, j)
		}
		seen[t] = i
		s.Toppings = append(s.Toppings, t)
	}
	if limit := toppingLimit[size]; len(list) > limit {
		return s, fmt.Sprintf("a %s pizza holds at most %d toppings, this order has %d", size, limit, len(list))
	}
	return s, ""
}

// observedStatus is what the order's status says now (from the lister).
type observedStatus struct {
	Phase, Message, OvenPod            string
	ObservedGeneration                 int64
	ReadyStatus, ReadyReason, ReadyLTT string
}

func readStatus(u *unstructured.Unstructured) observedStatus {
	var o observedStatus
	st, ok := u.Object["status"].(map[string]interface{})
	if !ok {
		return o
	}
	o.Phase, _ = st["phase"].(string)
	o.Message, _ = st["message"].(string)
	o.OvenPod, _ = st["ovenPod"].(string)
	o.ObservedGeneration = toInt64(st["observedGeneration"])
	conds, _ := st["conditions"].([]interface{})
	for _, c := range conds {
		m, ok := c.(map[string]interface{})
		if !ok || m["type"] != "Ready" {
			continue
		}
		o.ReadyStatus, _ = m["status"].(string)
		o.ReadyReason, _ = m["reason"].(string)
		o.ReadyLTT, _ = m["lastTransitionTime"].(string)
	}
	return o
}

func toInt64(v interface{}) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case int:
		return int64(n)
	case float64:
		return int64(n)
	}
	return 0
}

type action int

const (
	actNone action = iota
	actCreatePod
	actDeletePod
)

// decision is what a reconcile must do: an action on the Pod and the status wanted.
type decision struct {
	Action      action
	WriteStatus bool
	Phase       string
	Ready       string // "True" or "False"
	Reason      string
	Message     string
	OvenPod     string
}

// decide mirrors order_decide of the C controller.
func decide(name string, gen int64, uid types.UID, specErr string, spec orderSpec, pod *corev1.Pod,
	obs observedStatus) decision {
	var d decision
	oven := name + podSuffix
	want := func(phase, ready, reason, msg, ovenPod string) {
		d.Phase, d.Ready, d.Reason, d.Message, d.OvenPod = phase, ready, reason, msg, ovenPod
		d.WriteStatus = obs.Phase != phase || obs.Message != msg || obs.OvenPod != ovenPod ||
			obs.ObservedGeneration != gen || obs.ReadyStatus != ready || obs.ReadyReason != reason
	}
	deleting := pod != nil && pod.DeletionTimestamp != nil
	if specErr != "" {
		if pod != nil && !deleting {
			d.Action = actDeletePod
		}
		want("Failed", "False", "InvalidSpec", specErr, "")
		return d
	}
	if pod != nil && !podCurrent(pod, gen, uid) {
		if !deleting {
			d.Action = actDeletePod
		}
		want("Pending", "False", "Rebaking", fmt.Sprintf("replacing the oven Pod for generation %d", gen), oven)
		return d
	}
	if pod == nil {
		if obs.ObservedGeneration == gen && gen != 0 && (obs.Phase == "Ready" || obs.Phase == "Failed") {
			return d
		}
		d.Action = actCreatePod
		want("Pending", "False", "OvenPending", "waiting for the oven Pod to start", oven)
		return d
	}
	n := len(spec.Toppings)
	plural := "s"
	if n == 1 {
		plural = ""
	}
	switch pod.Status.Phase {
	case corev1.PodPending, "":
		want("Pending", "False", "OvenPending", "waiting for the oven Pod to start", oven)
	case corev1.PodRunning:
		want("Baking", "False", "Baking", fmt.Sprintf("baking a %s pizza with %d topping%s", spec.Size, n, plural), oven)
	case corev1.PodSucceeded:
		want("Ready", "True", "Baked", fmt.Sprintf("baked a %s pizza with %d topping%s", spec.Size, n, plural), oven)
	case corev1.PodFailed:
		want("Failed", "False", "OvenFailed", "oven Pod failed; change the order to bake again", oven)
	default:
		want("Pending", "False", "OvenUnknown", "oven Pod state is unknown", oven)
	}
	return d
}

// podCurrent: the Pod was made for this generation of this order (not an older one, nor one of a
// deleted order of the same name).
func podCurrent(pod *corev1.Pod, gen int64, uid types.UID) bool {
	g, err := strconv.ParseInt(pod.Labels[labelGeneration], 10, 64)
	if err != nil || g != gen {
		return false
	}
	ref := metav1.GetControllerOf(pod)
	return ref != nil && ref.UID == uid
}

type readyCondition struct {
	Type               string `json:"type"`
	Status             string `json:"status"`
	Reason             string `json:"reason"`
	Message            string `json:"message"`
	LastTransitionTime string `json:"lastTransitionTime"`
	ObservedGeneration int64  `json:"observedGeneration"`
}

type statusBody struct {
	Phase              string           `json:"phase"`
	Message            string           `json:"message"`
	OvenPod            string           `json:"ovenPod"`
	ObservedGeneration int64            `json:"observedGeneration"`
	Conditions         []readyCondition `json:"conditions"`
}

type statusPatch struct {
	Status statusBody `json:"status"`
}

// buildStatusPatch: the merge patch for the status subresource. now is RFC 3339 UTC, seconds.
func buildStatusPatch(d decision, gen int64, obs observedStatus, now string) statusPatch {
	ltt := now
	if obs.ReadyStatus == d.Ready && obs.ReadyLTT != "" {
		ltt = obs.ReadyLTT
	}
	return statusPatch{Status: statusBody{
		Phase:              d.Phase,
		Message:            d.Message,
		OvenPod:            d.OvenPod,
		ObservedGeneration: gen,
		Conditions: []readyCondition{{
			Type: "Ready", Status: d.Ready, Reason: d.Reason, Message: d.Message,
			LastTransitionTime: ltt, ObservedGeneration: gen,
		}},
	}}
}

// ovenPod builds the oven Pod of an order.
func ovenPod(ns, name string, gen int64, uid types.UID, spec orderSpec) *corev1.Pod {
	t, f := true, false
	nonRoot := int64(65534)
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      name + podSuffix,
			Namespace: ns,
			Labels: map[string]string{
				"app.kubernetes.io/name": "pizza-oven",
				labelManagedBy:           manager,
				labelOrder:               name,
				labelGeneration:          strconv.FormatInt(gen, 10),
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: orderAPIVersion, Kind: orderKind, Name: name, UID: uid,
				Controller: &t, BlockOwnerDeletion: &t,
			}},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                corev1.RestartPolicyNever,
			AutomountServiceAccountToken: &f,
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   &t,
				RunAsUser:      &nonRoot,
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name:    "oven",
				Image:   ovenImage,
				Command: []string{"/bin/sh", "-c", ovenCommand},
				Env: []corev1.EnvVar{
					{Name: "PIZZA_SIZE", Value: spec.Size},
					{Name: "PIZZA_TOPPINGS", Value: strings.Join(spec.Toppings, ",")},
					{Name: "BAKE_SECONDS", Value: strconv.Itoa(bakeSecondsSmall * sizeFactor[spec.Size])},
				},
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: &f,
					ReadOnlyRootFilesystem:   &t,
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{
						corev1.ResourceCPU:    resource.MustParse("10m"),
						corev1.ResourceMemory: resource.MustParse("16Mi"),
					},
					Limits: corev1.ResourceList{
						corev1.ResourceCPU:    resource.MustParse("100m"),
						corev1.ResourceMemory: resource.MustParse("32Mi"),
					},
				},
			}},
		},
	}
}
