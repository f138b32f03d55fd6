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
{{- $inputs := dict "normalize" "posts.raw" "locate" "posts.by_id" "enrich" "posts.normalized" "index" "posts.enriched" "alert" "posts.enriched" "notify" "alerts" }}
{{- include "townsquare.topic" (dict "root" .root "name" (get $inputs .role)) }}
{{- end }}

{{- define "townsquare.secretDir" -}}/var/run/secrets/townsquare{{- end }}

{{/* "true" when alert webhooks are configured (in the values or in a Secret), else empty. */}}
{{- define "townsquare.alertWebhooks" -}}
{{- if or .Values.alerts.webhooks .Values.alerts.webhooksSecret.name }}true{{ end }}
{{- end }}

{{/* "true" when a role's Deployment is rendered: enabled, and for notify only with webhooks. */}}
{{- define "townsquare.roleDeployed" -}}
{{- $cfg := get .root.Values.roles .role }}
{{- if and $cfg $cfg.enabled (or (ne .role "notify") (include "townsquare.alertWebhooks" .root)) }}true{{ end }}
{{- end }}

{{/*
The notify pods' own settings: the webhooks, the retries and the signing key. Only they
get them, so no other pod holds the key or the URLs. The webhooks JSON is checked here,
so a typo fails the install rather than the worker's start.
*/}}
{{- define "townsquare.notifyEnv" -}}
{{- $alerts := .Values.alerts }}
{{- if $alerts.webhooks }}
{{- $parsed := fromJson $alerts.webhooks }}
{{- if or (not $parsed) (hasKey $parsed "Error") }}
{{- fail "alerts.webhooks must be a JSON object: output name -> {\"url\": ..., \"format\": \"slack\" or \"json\"}" }}
{{- end }}
{{- range $name, $output := $parsed }}
{{- if not (and (kindIs "map" $output) (get $output "url")) }}
{{- fail (printf "alerts.webhooks: output %q has no url" $name) }}
{{- end }}
{{- end }}
- name: TOWNSQUARE_ALERT_WEBHOOKS
  value: {{ $alerts.webhooks | quote }}
{{- else if $alerts.webhooksSecret.name }}
- name: TOWNSQUARE_ALERT_WEBHOOKS
  valueFrom:
    secretKeyRef:
      name: {{ $alerts.webhooksSecret.name | quote }}
      key: {{ $alerts.webhooksSecret.key | quote }}
{{- end }}
- name: TOWNSQUARE_ALERT_WEBHOOK_RETRIES
  value: {{ $alerts.webhookRetries | quote }}
{{- with $alerts.webhookSecret.name }}
{{- if eq $.Values.secretsAs "file" }}
- name: TOWNSQUARE_ALERT_WEBHOOK_SECRET_FILE
  value: {{ printf "%s/alert-webhook/%s" (include "townsquare.secretDir" $) $alerts.webhookSecret.key | quote }}
{{- else }}
- name: TOWNSQUARE_ALERT_WEBHOOK_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ . | quote }}
      key: {{ $alerts.webhookSecret.key | quote }}
{{- end }}
{{- end }}
{{- end }}

{{- define "townsquare.notifyVolumeMounts" -}}
{{- if and .Values.alerts.webhookSecret.name (eq .Values.secretsAs "file") }}
- name: alert-webhook-secret
  mountPath: {{ printf "%s/alert-webhook" (include "townsquare.secretDir" .) }}
  readOnly: true
{{- end }}
{{- end }}

{{- define "townsquare.notifyVolumes" -}}
{{- if and .Values.alerts.webhookSecret.name (eq .Values.secretsAs "file") }}
- name: alert-webhook-secret
  secret:
    secretName: {{ .Values.alerts.webhookSecret.name }}
    defaultMode: 0440
    items:
      - key: {{ .Values.alerts.webhookSecret.key }}
        path: {{ .Values.alerts.webhookSecret.key }}
{{- end }}
{{- end }}

{{/*
The ConfigMap holding the alert rules, or empty for the rules shipped in the package:
alerts.rulesConfigMap (an existing map) or, from alerts.rules, the chart's own -rules map.
The schema refuses both; this fails too, for a render that skips the schema.
*/}}
{{- define "townsquare.rulesConfigMap" -}}
{{- $alerts := .Values.alerts }}
{{- if and $alerts.rulesConfigMap (trim $alerts.rules) }}
{{- fail "alerts.rules and alerts.rulesConfigMap: set one, not both" }}
{{- end }}
{{- if $alerts.rulesConfigMap }}{{ $alerts.rulesConfigMap }}
{{- else if trim $alerts.rules }}{{ include "townsquare.fullname" . }}-rules
{{- end }}
{{- end }}

{{/*
The data of the chart's own rules ConfigMap (alerts.rules under alerts.rulesKey), empty when
it has none. The YAML is checked here, so a broken file fails the install rather than the
alert worker's start: a mapping of the rules file's sections (`townsquare rules check FILE`
validates the rest).
*/}}
{{- define "townsquare.rulesData" -}}
{{- $alerts := .Values.alerts }}
{{- if and (trim $alerts.rules) (not $alerts.rulesConfigMap) }}
{{- $parsed := fromYaml $alerts.rules }}
{{- if or (not $parsed) (hasKey $parsed "Error") }}
{{- fail "alerts.rules must be a YAML mapping with rules, spikes, reply_deadlines and/or silence (the rules file format)" }}
{{- end }}
{{- range $section, $_ := $parsed }}
{{- if not (has $section (list "rules" "spikes" "reply_deadlines" "silence")) }}
{{- fail (printf "alerts.rules: unknown section %q (expected rules, spikes, reply_deadlines, silence)" $section) }}
{{- end }}
{{- end }}
{{- dict $alerts.rulesKey $alerts.rules | toYaml }}
{{- end }}
{{- end }}

{{- define "townsquare.rulesDir" -}}/etc/townsquare/rules{{- end }}

{{/* The alert pods' own settings: where the rules file is mounted, if there is one. */}}
{{- define "townsquare.alertEnv" -}}
{{- if include "townsquare.rulesConfigMap" . }}
- name: TOWNSQUARE_RULES_PATH
  value: {{ printf "%s/%s" (include "townsquare.rulesDir" .) .Values.alerts.rulesKey | quote }}
{{- end }}
{{- end }}

{{- define "townsquare.alertVolumeMounts" -}}
{{- if include "townsquare.rulesConfigMap" . }}
- name: alert-rules
  mountPath: {{ include "townsquare.rulesDir" . }}
  readOnly: true
{{- end }}
{{- end }}

{{- define "townsquare.alertVolumes" -}}
{{- with include "townsquare.rulesConfigMap" . }}
- name: alert-rules
  configMap:
    name: {{ . }}
    items:
      - key: {{ $.Values.alerts.rulesKey }}
        path: {{ $.Values.alerts.rulesKey }}
{{- end }}
{{- end }}

{{/*
Non-secret settings as TOWNSQUARE_* keys. Rendered into the ConfigMap and, because
the setup hook runs before the ConfigMap exists, inline into the setup Job.
*/}}
{{/*
Kafka TLS/SASL values the service itself refuses at start-up (streams.settings), refused
here so that helm install/upgrade fails instead of every pod crash-looping. The client
certificate and its key come from one Secret, so they cannot be given apart.
*/}}
{{- define "townsquare.validateKafka" -}}
{{- $k := .Values.kafka }}
{{- $oauth := $k.oauth | default dict }}
{{- if and $k.clientKeyPasswordKey (not $k.clientCertSecret) }}
{{- fail "kafka.clientKeyPasswordKey is set but kafka.clientCertSecret is not: the key passphrase belongs to the client certificate's private key. Set kafka.clientCertSecret (a kubernetes.io/tls Secret) or unset kafka.clientKeyPasswordKey." }}
{{- end }}
{{- if and $k.clientCertSecret (not (has $k.securityProtocol (list "SSL" "SASL_SSL"))) }}
{{- fail (printf "kafka.clientCertSecret is set but kafka.securityProtocol is %s, which does not use TLS: set kafka.securityProtocol to SSL or SASL_SSL (or unset kafka.clientCertSecret)." $k.securityProtocol) }}
{{- end }}
{{- if eq $k.saslMechanism "OAUTHBEARER" }}
{{- if not (has $k.securityProtocol (list "SASL_PLAINTEXT" "SASL_SSL")) }}
{{- fail (printf "kafka.saslMechanism OAUTHBEARER is a SASL mechanism but kafka.securityProtocol is %s: set it to SASL_SSL (or SASL_PLAINTEXT on a trusted network)." $k.securityProtocol) }}
{{- end }}
{{- $missing := list }}
{{- if not $oauth.tokenUrl }}{{ $missing = append $missing "kafka.oauth.tokenUrl" }}{{ end }}
{{- if not $oauth.clientId }}{{ $missing = append $missing "kafka.oauth.clientId" }}{{ end }}
{{- if not $oauth.existingSecret }}{{ $missing = append $missing "kafka.oauth.existingSecret" }}{{ end }}
{{- if $missing }}
{{- fail (printf "kafka.saslMechanism OAUTHBEARER fetches its token with the OAuth client-credentials grant, but %s %s empty: set %s (existingSecret names a Secret holding the client secret under kafka.oauth.clientSecretKey)." (join ", " $missing) (ternary "is" "are" (eq (len $missing) 1)) (ternary "it" "them" (eq (len $missing) 1))) }}
{{- end }}
{{- end }}
{{- end }}

{{- define "townsquare.kafkaClientDir" -}}/etc/townsquare/kafka-client{{- end }}

{{- define "townsquare.configData" -}}
{{- include "townsquare.validateKafka" . }}
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
{{- if .Values.kafka.clientCertSecret }}
TOWNSQUARE_KAFKA_SSL_CERTFILE: {{ printf "%s/%s" (include "townsquare.kafkaClientDir" .) .Values.kafka.clientCertKey | quote }}
TOWNSQUARE_KAFKA_SSL_KEYFILE: {{ printf "%s/%s" (include "townsquare.kafkaClientDir" .) .Values.kafka.clientKeyKey | quote }}
{{- end }}
{{- with .Values.kafka.oauth }}
{{- with .tokenUrl }}
TOWNSQUARE_KAFKA_OAUTH_TOKEN_URL: {{ . | quote }}
{{- end }}
{{- with .clientId }}
TOWNSQUARE_KAFKA_OAUTH_CLIENT_ID: {{ . | quote }}
{{- end }}
{{- with .scope }}
TOWNSQUARE_KAFKA_OAUTH_SCOPE: {{ . | quote }}
{{- end }}
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
{{- if include "townsquare.profileConfigMap" . }}
TOWNSQUARE_PROFILE_PATH: {{ include "townsquare.profilePath" . | quote }}
{{- end }}
TOWNSQUARE_ALLOW_SAMPLE_PROFILE: {{ .Values.profile.allowSample | quote }}
{{- with .Values.alerts.kibanaBaseUrl }}
TOWNSQUARE_KIBANA_BASE_URL: {{ . | quote }}
{{- end }}
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
{{- if and .Values.kafka.clientCertSecret .Values.kafka.clientKeyPasswordKey }}
{{- if eq .Values.secretsAs "file" }}
- name: TOWNSQUARE_KAFKA_SSL_KEY_PASSWORD_FILE
  value: {{ printf "%s/kafka-client-key/%s" $dir .Values.kafka.clientKeyPasswordKey | quote }}
{{- else }}
- name: TOWNSQUARE_KAFKA_SSL_KEY_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.clientCertSecret | quote }}
      key: {{ .Values.kafka.clientKeyPasswordKey | quote }}
{{- end }}
{{- end }}
{{- with (.Values.kafka.oauth | default dict).existingSecret }}
{{- if eq $.Values.secretsAs "file" }}
- name: TOWNSQUARE_KAFKA_OAUTH_CLIENT_SECRET_FILE
  value: {{ printf "%s/kafka-oauth/%s" $dir $.Values.kafka.oauth.clientSecretKey | quote }}
{{- else }}
- name: TOWNSQUARE_KAFKA_OAUTH_CLIENT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ . | quote }}
      key: {{ $.Values.kafka.oauth.clientSecretKey | quote }}
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
{{- if and .Values.kafka.clientCertSecret .Values.kafka.clientKeyPasswordKey (eq .Values.secretsAs "file") }}
- name: kafka-client-key-password
  mountPath: {{ printf "%s/kafka-client-key" (include "townsquare.secretDir" .) }}
  readOnly: true
{{- end }}
{{- if and (.Values.kafka.oauth | default dict).existingSecret (eq .Values.secretsAs "file") }}
- name: kafka-oauth-secret
  mountPath: {{ printf "%s/kafka-oauth" (include "townsquare.secretDir" .) }}
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
{{- if .Values.kafka.clientCertSecret }}
- name: kafka-client
  mountPath: {{ include "townsquare.kafkaClientDir" . }}
  readOnly: true
{{- end }}
{{- if .Values.elasticsearch.caSecret }}
- name: es-ca
  mountPath: /etc/townsquare/es-ca
  readOnly: true
{{- end }}
{{- if include "townsquare.profileConfigMap" . }}
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
{{- if and .Values.kafka.clientCertSecret .Values.kafka.clientKeyPasswordKey (eq .Values.secretsAs "file") }}
- name: kafka-client-key-password
  secret:
    secretName: {{ .Values.kafka.clientCertSecret }}
    defaultMode: 0440
    items:
      - key: {{ .Values.kafka.clientKeyPasswordKey }}
        path: {{ .Values.kafka.clientKeyPasswordKey }}
{{- end }}
{{- if and (.Values.kafka.oauth | default dict).existingSecret (eq .Values.secretsAs "file") }}
- name: kafka-oauth-secret
  secret:
    secretName: {{ .Values.kafka.oauth.existingSecret }}
    defaultMode: 0440
    items:
      - key: {{ .Values.kafka.oauth.clientSecretKey }}
        path: {{ .Values.kafka.oauth.clientSecretKey }}
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
{{- if .Values.kafka.clientCertSecret }}
{{- /* Only the certificate and key: a passphrase follows secretsAs (kafka-client-key-password). */}}
- name: kafka-client
  secret:
    secretName: {{ .Values.kafka.clientCertSecret }}
    defaultMode: 0440
    items:
      - key: {{ .Values.kafka.clientCertKey }}
        path: {{ .Values.kafka.clientCertKey }}
      - key: {{ .Values.kafka.clientKeyKey }}
        path: {{ .Values.kafka.clientKeyKey }}
{{- end }}
{{- if .Values.elasticsearch.caSecret }}
- name: es-ca
  secret:
    secretName: {{ .Values.elasticsearch.caSecret }}
    items:
      - key: {{ .Values.elasticsearch.caKey }}
        path: {{ .Values.elasticsearch.caKey }}
{{- end }}
{{- with include "townsquare.profileConfigMap" . }}
- name: profile
  configMap:
    name: {{ . }}
{{- end }}
{{- end }}

{{/* Pod-level settings shared by every townsquare pod (volumes stays last: the notify and
alert Deployments append their own to the list). */}}
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

{{/*
The metrics port also answers the probes (streams.worker.health): /live fails only when
the event loop stops answering (a restart helps), /ready fails while a worker has no
assignment yet, lost the broker, or (index) cannot reach Elasticsearch (503 with the
failed checks as JSON). Ingest pods answer 200 on both while the process runs.
*/}}
{{- define "townsquare.probes" -}}
{{- include "townsquare.portsAndProbes" (dict "root" . "extraPorts" list) }}
{{- end }}

{{/* The same with more container ports (the webhook receiver's), as a list of port maps. */}}
{{- define "townsquare.portsAndProbes" -}}
{{- $root := .root }}
ports:
  - name: metrics
    containerPort: {{ $root.Values.metrics.port }}
    protocol: TCP
  {{- with .extraPorts }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with $root }}
livenessProbe:
  httpGet:
    path: /live
    port: metrics
  {{- toYaml .Values.probes.liveness | nindent 2 }}
readinessProbe:
  httpGet:
    path: /ready
    port: metrics
  {{- toYaml .Values.probes.readiness | nindent 2 }}
{{- end }}
{{- end }}

{{/*
The ConfigMap holding the profile, or empty: profile.existingConfigMap, or the chart's own
<fullname>-profile rendered from profile.inline. Not both (the schema refuses it too).
*/}}
{{- define "townsquare.profileConfigMap" -}}
{{- if and .Values.profile.existingConfigMap (trim .Values.profile.inline) }}
{{- fail "profile.inline and profile.existingConfigMap: set one, not both" }}
{{- end }}
{{- if .Values.profile.existingConfigMap }}{{ .Values.profile.existingConfigMap }}
{{- else if trim .Values.profile.inline }}{{ include "townsquare.fullname" . }}-profile
{{- end }}
{{- end }}

{{- define "townsquare.profilePath" -}}
{{- printf "/etc/townsquare/profile/%s" .Values.profile.key }}
{{- end }}

{{/*
The checksum of the profile, so a changed profile rolls the worker pods (they read it
once, at start). profile.inline: always known. profile.existingConfigMap: read from the
cluster with `lookup` during install/upgrade; `helm template` and `--dry-run` have no
cluster, so there it is empty and the annotation is left out (the pods then roll only
when something else changes). Editing an existing ConfigMap rolls the pods at the next
`helm upgrade`, not by itself.
*/}}
{{- define "townsquare.profileChecksum" -}}
{{- if trim .Values.profile.inline }}
{{- .Values.profile.inline | sha256sum }}
{{- else if .Values.profile.existingConfigMap }}
{{- $cm := lookup "v1" "ConfigMap" .Release.Namespace .Values.profile.existingConfigMap }}
{{- if $cm }}{{ toYaml (default dict $cm.data) | sha256sum }}{{ end }}
{{- end }}
{{- end }}

{{/*
The ingest Deployments: ingest.sources, plus the webhook receiver when
ingest.webhook.enabled. The receiver listens on every interface in the pod (its own
default is 127.0.0.1), behind the <fullname>-webhook Service.
*/}}
{{- define "townsquare.ingestSources" -}}
{{- $sources := list }}
{{- range .Values.ingest.sources }}{{ $sources = append $sources . }}{{ end }}
{{- $hook := .Values.ingest.webhook }}
{{- if $hook.enabled }}
{{- $args := list "--host" "0.0.0.0" "--port" (toString $hook.port) }}
{{- range $hook.args }}{{ $args = append $args . }}{{ end }}
{{- $src := dict "name" "webhook" "source" "webhook" "args" $args "webhook" true "replicas" $hook.replicas }}
{{- with $hook.secretEnv }}{{ $_ := set $src "secretEnv" . }}{{ end }}
{{- with $hook.extraEnv }}{{ $_ := set $src "extraEnv" . }}{{ end }}
{{- with $hook.resources }}{{ $_ := set $src "resources" . }}{{ end }}
{{- $sources = append $sources $src }}
{{- end }}
{{- toYaml $sources }}
{{- end }}

{{/*
Refuses replica counts a consumer group cannot use. Each deployed worker role consumes its
input topic (townsquare.roleInputTopic) as one consumer group, and Kafka gives a partition
to one member only: a replica beyond the topic's partition count (topics.partitions, the
same for every topic setup creates) gets no partition and sits idle. Checked: replicas (when
the role is not autoscaled; an HPA owns the count otherwise), autoscaling.maxReplicas, and
autoscaling.minReplicas against maxReplicas. values.schema.json bounds each of these numbers
on its own (integers >= 1), but JSON Schema cannot compare two fields of the values, hence
this template-time check. Disabled (not deployed) roles are skipped. Renders nothing.
*/}}
{{- define "townsquare.validateReplicas" -}}
{{- $partitions := int .Values.topics.partitions }}
{{- range $role := list "normalize" "locate" "enrich" "index" "alert" "notify" }}
{{- if include "townsquare.roleDeployed" (dict "root" $ "role" $role) }}
{{- $cfg := get $.Values.roles $role }}
{{- $topic := include "townsquare.roleInputTopic" (dict "root" $ "role" $role) }}
{{- $where := printf "the partitions of its input topic %s (%d, topics.partitions): extra replicas would get no partition. Raise topics.partitions (before setup creates the topics: it does not add partitions to existing ones) or lower" $topic $partitions }}
{{- if $cfg.autoscaling.enabled }}
{{- $min := int $cfg.autoscaling.minReplicas }}
{{- $max := int $cfg.autoscaling.maxReplicas }}
{{- if gt $min $max }}
{{- fail (printf "roles.%s.autoscaling.minReplicas (%d) exceeds roles.%s.autoscaling.maxReplicas (%d): the HPA cannot scale between them. Lower minReplicas or raise maxReplicas." $role $min $role $max) }}
{{- end }}
{{- if gt $max $partitions }}
{{- fail (printf "roles.%s.autoscaling.maxReplicas (%d) exceeds %s roles.%s.autoscaling.maxReplicas." $role $max $where $role) }}
{{- end }}
{{- else }}
{{- $replicas := int $cfg.replicas }}
{{- if gt $replicas $partitions }}
{{- fail (printf "roles.%s.replicas (%d) exceeds %s roles.%s.replicas." $role $replicas $where $role) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
