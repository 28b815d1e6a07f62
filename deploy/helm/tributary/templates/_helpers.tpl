{{/* The release's base name: the release name, or release-chart when they differ. */}}
{{- define "tributary.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels that select a release's pods. */}}
{{- define "tributary.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "tributary.labels" -}}
{{ include "tributary.selectorLabels" . }}
app.kubernetes.io/part-of: tributary
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "tributary.validate" -}}
{{- if not (has .Values.mode (list "single" "scale-out")) -}}
{{- fail (printf "mode must be single or scale-out, not %q" .Values.mode) -}}
{{- end -}}
{{- if and (eq .Values.mode "scale-out") (gt (int .Values.worker.replicas) (int .Values.backends.partitions)) -}}
{{- fail "worker.replicas must not exceed backends.partitions: a worker without a partition idles" -}}
{{- end -}}
{{- end -}}

{{/*
The pod template of a role: what every Tributary pod has (user, read-only root, configuration,
token) and the role's own arguments, port and probes. Called with a dict:
  root       the chart's context
  component  api, ingest, worker or batch
  args       the container's arguments
  port       8080 (the API) or 9090 (the operations port)
  tokenOptional  whether the token Secret may be missing
  backends   whether the backends' Secret is mounted as environment
  resources  the role's resources
  dataVolume whether the volume `data` is a claim of the StatefulSet (else an emptyDir)
*/}}
{{- define "tributary.podTemplate" -}}
{{- $root := .root -}}
{{- $portName := ternary "http" "ops" (eq .component "api") -}}
metadata:
  labels:
    {{- include "tributary.selectorLabels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
  annotations:
    checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
    {{- if $root.Values.metrics.scrapeAnnotations }}
    prometheus.io/scrape: "true"
    prometheus.io/port: {{ .port | quote }}
    prometheus.io/path: /metrics
    {{- end }}
spec:
  serviceAccountName: {{ include "tributary.fullname" $root }}
  automountServiceAccountToken: false
  # No TRIBUTARY_SERVICE_HOST, TRIBUTARY_PORT, … from the Service: the prefix is the
  # configuration's (Tributary ignores those names, but the pods need none).
  enableServiceLinks: false
  # Tributary finishes its current batch and closes the log on SIGTERM, in well under this.
  terminationGracePeriodSeconds: 30
  securityContext:
    runAsNonRoot: true
    runAsUser: 10001
    runAsGroup: 10001
    fsGroup: 10001
    seccompProfile:
      type: RuntimeDefault
  containers:
    - name: tributary
      image: "{{ $root.Values.image.repository }}:{{ $root.Values.image.tag }}"
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      args: {{ toJson .args }}
      env:
        - name: TRIBUTARY_CONFIG
          value: /etc/tributary/tributary.toml
        - name: TRIBUTARY_API_TOKEN
          valueFrom:
            secretKeyRef:
              name: {{ $root.Values.apiTokenSecret }}
              key: token
              optional: {{ .tokenOptional }}
        {{- if eq .component "worker" }}
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        {{- end }}
      {{- if .backends }}
      envFrom:
        - secretRef:
            name: {{ $root.Values.backendsSecret }}
      {{- end }}
      ports:
        - name: {{ $portName }}
          containerPort: {{ .port }}
          protocol: TCP
      {{- if eq .component "api" }}
      startupProbe:
        httpGet: { path: /healthz, port: {{ $portName }} }
        periodSeconds: 2
        failureThreshold: 60
      {{- end }}
      livenessProbe:
        httpGet: { path: /healthz, port: {{ $portName }} }
        periodSeconds: 10
        failureThreshold: 3
      readinessProbe:
        httpGet: { path: /readyz, port: {{ $portName }} }
        periodSeconds: 5
        failureThreshold: 3
      resources:
        {{- toYaml .resources | nindent 8 }}
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities:
          drop: ["ALL"]
      volumeMounts:
        - name: config
          mountPath: /etc/tributary
          readOnly: true
        - name: tmp
          mountPath: /tmp
        - name: data
          mountPath: /var/lib/tributary
  volumes:
    - name: config
      configMap:
        name: {{ include "tributary.fullname" $root }}-config
    - name: tmp
      emptyDir: {}
    {{- if not .dataVolume }}
    - name: data
      emptyDir: {}
    {{- end }}
{{- end -}}

{{/* A StatefulSet's claim template for the volume `data`. */}}
{{- define "tributary.dataClaim" -}}
- metadata:
    name: data
  spec:
    accessModes: ["ReadWriteOnce"]
    {{- if .storageClass }}
    storageClassName: {{ .storageClass | quote }}
    {{- end }}
    resources:
      requests:
        storage: {{ .size }}
{{- end -}}
