{{/*
Helpers that take a service context are called with (dict "root" $ "name" "<service>" "svc" <values>).
*/}}

{{- define "sloughgpt.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sloughgpt.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "sloughgpt.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "sloughgpt.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Name shared by one service's Deployment, Service and ServiceAccount. */}}
{{- define "sloughgpt.componentName" -}}
{{- printf "%s-%s" (include "sloughgpt.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sloughgpt.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sloughgpt.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "sloughgpt.labels" -}}
helm.sh/chart: {{ include "sloughgpt.chart" .root }}
{{ include "sloughgpt.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: sloughgpt
{{- end -}}

{{/* "true" when this service runs on GPUs; empty otherwise. */}}
{{- define "sloughgpt.gpuEnabled" -}}
{{- if dig "gpu" "enabled" false .svc -}}true{{- end -}}
{{- end -}}

{{/* registry/repository:tag, with the CUDA tag suffix when the GPU is on. */}}
{{- define "sloughgpt.image" -}}
{{- $global := .root.Values.global.image -}}
{{- $repo := .svc.image.repository -}}
{{- if not (contains "/" $repo) -}}
{{- $repo = printf "%s/%s" (trimSuffix "/" $global.registry) $repo -}}
{{- end -}}
{{- $tag := .svc.image.tag | default $global.tag | default .root.Chart.AppVersion | toString -}}
{{- if include "sloughgpt.gpuEnabled" . -}}
{{- $tag = printf "%s%s" $tag (dig "gpu" "tagSuffix" "" .svc) -}}
{{- end -}}
{{- printf "%s:%s" $repo $tag -}}
{{- end -}}

{{/* host:port env vars for the gRPC services this one calls, as YAML. */}}
{{- define "sloughgpt.peerAddrs" -}}
{{- $envNames := dict "serving" "SERVING_ADDR" "rag" "RAG_ADDR" "reasoning" "REASONING_ADDR" "training-controller" "TRAINING_ADDR" "monitoring" "MONITORING_ADDR" -}}
{{- $peers := dict "gateway" (list "serving" "rag" "reasoning" "training-controller" "monitoring") "reasoning" (list "serving") "monitoring" (list "serving" "rag" "reasoning" "training-controller") -}}
{{- $out := dict -}}
{{- range $peer := (get $peers .name | default list) -}}
{{- $peerPorts := dig $peer "ports" (dict) $.root.Values.services -}}
{{- $addr := printf "%s:%v" (include "sloughgpt.componentName" (dict "root" $.root "name" $peer)) (get $peerPorts "grpc") -}}
{{- $_ := set $out (get $envNames $peer) $addr -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{- define "sloughgpt.databaseSecretName" -}}
{{- .Values.database.existingSecret | default (printf "%s-database" (include "sloughgpt.fullname" .)) -}}
{{- end -}}

{{- define "sloughgpt.adminKeySecretName" -}}
{{- .Values.adminKey.existingSecret | default (printf "%s-admin-key" (include "sloughgpt.fullname" .)) -}}
{{- end -}}
