{{/* Chart name, truncated to the 63 characters Kubernetes allows in names. */}}
{{- define "townsquare.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "townsquare.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "townsquare.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "townsquare.selectorLabels" -}}
app.kubernetes.io/name: {{ include "townsquare.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "townsquare.labels" -}}
helm.sh/chart: {{ include "townsquare.chart" . }}
{{ include "townsquare.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: townsquare
{{- end }}

{{- define "townsquare.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Full topic name as streams.settings.Settings.topic() builds it. */}}
{{- define "townsquare.topic" -}}
{{- printf "%s%s.%s" .root.Values.topics.prefix .name .root.Values.topics.version }}
{{- end }}

{{/* The topic each worker role consumes; its lag drives that role's HPA. */}}
{{- define "townsquare.roleInputTopic" -}}
{{- $inputs := dict "normalize" "posts.raw" "locate" "posts.by_id" "enrich" "posts.normalized" "index" "posts.enriched" }}
{{- include "townsquare.topic" (dict "root" .root "name" (get $inputs .role)) }}
{{- end }}

{{- define "townsquare.secretDir" -}}/var/run/secrets/townsquare{{- end }}

{{/*
Non-secret settings as TOWNSQUARE_* keys. Rendered into the ConfigMap and, because
the setup hook runs before the ConfigMap exists, inline into the setup Job.
*/}}
{{- define "townsquare.configData" -}}
TOWNSQUARE_KAFKA_BOOTSTRAP: {{ .Values.kafka.bootstrap | quote }}
TOWNSQUARE_KAFKA_SECURITY_PROTOCOL: {{ .Values.kafka.securityProtocol | quote }}
{{- with .Values.kafka.saslMechanism }}
TOWNSQUARE_KAFKA_SASL_MECHANISM: {{ . | quote }}
{{- end }}
{{- with .Values.kafka.saslUsername }}
TOWNSQUARE_KAFKA_SASL_USERNAME: {{ . | quote }}
{{- end }}
{{- if .Values.kafka.caSecret }}
TOWNSQUARE_KAFKA_SSL_CAFILE: {{ printf "/etc/townsquare/kafka-ca/%s" .Values.kafka.caKey | quote }}
{{- end }}
TOWNSQUARE_TOPIC_PREFIX: {{ .Values.topics.prefix | quote }}
TOWNSQUARE_TOPIC_VERSION: {{ .Values.topics.version | quote }}
TOWNSQUARE_TOPIC_PARTITIONS: {{ .Values.topics.partitions | quote }}
TOWNSQUARE_TOPIC_REPLICATION: {{ .Values.topics.replication | quote }}
TOWNSQUARE_APP_ID: {{ .Values.appId | quote }}
TOWNSQUARE_ES_URL: {{ .Values.elasticsearch.url | quote }}
{{- with .Values.elasticsearch.username }}
TOWNSQUARE_ES_USERNAME: {{ . | quote }}
{{- end }}
{{- if .Values.elasticsearch.caSecret }}
TOWNSQUARE_ES_CA_FILE: {{ printf "/etc/townsquare/es-ca/%s" .Values.elasticsearch.caKey | quote }}
{{- end }}
TOWNSQUARE_INDEX_PREFIX: {{ .Values.indexPrefix | quote }}
TOWNSQUARE_ES_BULK_CHUNK: {{ .Values.elasticsearchBulk.chunk | quote }}
TOWNSQUARE_ES_BULK_MAX_BYTES: {{ .Values.elasticsearchBulk.maxBytes | int64 | quote }}
TOWNSQUARE_ES_MAX_RETRIES: {{ .Values.elasticsearchBulk.maxRetries | quote }}
TOWNSQUARE_ES_MAX_BACKOFF: {{ .Values.elasticsearchBulk.maxBackoff | quote }}
TOWNSQUARE_RETENTION_DAYS: {{ .Values.retentionDays | quote }}
TOWNSQUARE_PSEUDONYMISE: {{ .Values.privacy.pseudonymise | quote }}
{{- with .Values.enrichment.spacyModel }}
TOWNSQUARE_SPACY_MODEL: {{ . | quote }}
{{- end }}
TOWNSQUARE_BATCH_SIZE: {{ .Values.enrichment.batchSize | quote }}
TOWNSQUARE_BATCH_WAIT: {{ .Values.enrichment.batchWait | quote }}
TOWNSQUARE_NER_PROCESSES: {{ .Values.enrichment.nerProcesses | quote }}
TOWNSQUARE_MAX_MESSAGE_BYTES: {{ .Values.enrichment.maxMessageBytes | int64 | quote }}
{{- if .Values.profile.existingConfigMap }}
TOWNSQUARE_PROFILE_PATH: {{ printf "/etc/townsquare/profile/%s" .Values.profile.key | quote }}
{{- end }}
TOWNSQUARE_ALLOW_SAMPLE_PROFILE: {{ .Values.profile.allowSample | quote }}
TOWNSQUARE_METRICS_PORT: {{ .Values.metrics.port | quote }}
TOWNSQUARE_LOG_LEVEL: {{ .Values.logLevel | quote }}
TOWNSQUARE_LOG_FORMAT: {{ .Values.logFormat | quote }}
TOWNSQUARE_DATA_DIR: "/data"
{{- range $name, $value := .Values.extraEnv }}
{{ $name }}: {{ $value | quote }}
{{- end }}
{{- end }}

{{/* Secret settings: mounted files (TOWNSQUARE_*_FILE) or secretKeyRef env vars. */}}
{{- define "townsquare.secretEnv" -}}
{{- $dir := include "townsquare.secretDir" . }}
{{- with .Values.kafka.existingSecret }}
{{- if eq $.Values.secretsAs "file" }}
- name: TOWNSQUARE_KAFKA_SASL_PASSWORD_FILE
  value: {{ printf "%s/kafka/%s" $dir $.Values.kafka.passwordKey | quote }}
{{- else }}
- name: TOWNSQUARE_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ . | quote }}
      key: {{ $.Values.kafka.passwordKey | quote }}
{{- end }}
{{- end }}
{{- with .Values.elasticsearch.existingSecret }}
{{- if $.Values.elasticsearch.apiKeyKey }}
{{- if eq $.Values.secretsAs "file" }}
- name: TOWNSQUARE_ES_API_KEY_FILE
  value: {{ printf "%s/elasticsearch/%s" $dir $.Values.elasticsearch.apiKeyKey | quote }}
{{- else }}
- name: TOWNSQUARE_ES_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . | quote }}
      key: {{ $.Values.elasticsearch.apiKeyKey | quote }}
{{- end }}
{{- end }}
{{- if $.Values.elasticsearch.passwordKey }}
{{- if eq $.Values.secretsAs "file" }}
- name: TOWNSQUARE_ES_PASSWORD_FILE
  value: {{ printf "%s/elasticsearch/%s" $dir $.Values.elasticsearch.passwordKey | quote }}
{{- else }}
- name: TOWNSQUARE_ES_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ . | quote }}
      key: {{ $.Values.elasticsearch.passwordKey | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- with .Values.privacy.pseudonymKeySecret.name }}
{{- if eq $.Values.secretsAs "file" }}
- name: TOWNSQUARE_PSEUDONYM_KEY_FILE
  value: {{ printf "%s/pseudonym/%s" $dir $.Values.privacy.pseudonymKeySecret.key | quote }}
{{- else }}
- name: TOWNSQUARE_PSEUDONYM_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . | quote }}
      key: {{ $.Values.privacy.pseudonymKeySecret.key | quote }}
{{- end }}
{{- end }}
{{- end }}

{{- define "townsquare.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: /data
{{- if and .Values.kafka.existingSecret (eq .Values.secretsAs "file") }}
- name: kafka-secret
  mountPath: {{ printf "%s/kafka" (include "townsquare.secretDir" .) }}
  readOnly: true
{{- end }}
{{- if and .Values.elasticsearch.existingSecret (eq .Values.secretsAs "file") }}
- name: elasticsearch-secret
  mountPath: {{ printf "%s/elasticsearch" (include "townsquare.secretDir" .) }}
  readOnly: true
{{- end }}
{{- if and .Values.privacy.pseudonymKeySecret.name (eq .Values.secretsAs "file") }}
- name: pseudonym-key
  mountPath: {{ printf "%s/pseudonym" (include "townsquare.secretDir" .) }}
  readOnly: true
{{- end }}
{{- if .Values.kafka.caSecret }}
- name: kafka-ca
  mountPath: /etc/townsquare/kafka-ca
  readOnly: true
{{- end }}
{{- if .Values.elasticsearch.caSecret }}
- name: es-ca
  mountPath: /etc/townsquare/es-ca
  readOnly: true
{{- end }}
{{- if .Values.profile.existingConfigMap }}
- name: profile
  mountPath: /etc/townsquare/profile
  readOnly: true
{{- end }}
{{- end }}

{{- define "townsquare.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.scratch.tmpSizeLimit }}
- name: data
  emptyDir:
    sizeLimit: {{ .Values.scratch.dataSizeLimit }}
{{- if and .Values.kafka.existingSecret (eq .Values.secretsAs "file") }}
- name: kafka-secret
  secret:
    secretName: {{ .Values.kafka.existingSecret }}
    defaultMode: 0440
    items:
      - key: {{ .Values.kafka.passwordKey }}
        path: {{ .Values.kafka.passwordKey }}
{{- end }}
{{- if and .Values.elasticsearch.existingSecret (eq .Values.secretsAs "file") }}
- name: elasticsearch-secret
  secret:
    secretName: {{ .Values.elasticsearch.existingSecret }}
    defaultMode: 0440
{{- end }}
{{- if and .Values.privacy.pseudonymKeySecret.name (eq .Values.secretsAs "file") }}
- name: pseudonym-key
  secret:
    secretName: {{ .Values.privacy.pseudonymKeySecret.name }}
    defaultMode: 0440
    items:
      - key: {{ .Values.privacy.pseudonymKeySecret.key }}
        path: {{ .Values.privacy.pseudonymKeySecret.key }}
{{- end }}
{{- if .Values.kafka.caSecret }}
- name: kafka-ca
  secret:
    secretName: {{ .Values.kafka.caSecret }}
    items:
      - key: {{ .Values.kafka.caKey }}
        path: {{ .Values.kafka.caKey }}
{{- end }}
{{- if .Values.elasticsearch.caSecret }}
- name: es-ca
  secret:
    secretName: {{ .Values.elasticsearch.caSecret }}
    items:
      - key: {{ .Values.elasticsearch.caKey }}
        path: {{ .Values.elasticsearch.caKey }}
{{- end }}
{{- if .Values.profile.existingConfigMap }}
- name: profile
  configMap:
    name: {{ .Values.profile.existingConfigMap }}
{{- end }}
{{- end }}

{{/* Pod-level settings shared by every townsquare pod. */}}
{{- define "townsquare.podCommon" -}}
automountServiceAccountToken: false
{{- with .Values.serviceAccountName }}
serviceAccountName: {{ . }}
{{- end }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
volumes:
  {{- include "townsquare.volumes" . | nindent 2 }}
{{- end }}

{{/* /metrics answers as soon as the process is up: liveness and readiness both use it. */}}
{{- define "townsquare.probes" -}}
ports:
  - name: metrics
    containerPort: {{ .Values.metrics.port }}
    protocol: TCP
livenessProbe:
  httpGet:
    path: /metrics
    port: metrics
  {{- toYaml .Values.probes.liveness | nindent 2 }}
readinessProbe:
  httpGet:
    path: /metrics
    port: metrics
  {{- toYaml .Values.probes.readiness | nindent 2 }}
{{- end }}
