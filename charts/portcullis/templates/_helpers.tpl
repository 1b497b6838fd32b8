{{- define "portcullis.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "portcullis.fullname" -}}
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

{{- define "portcullis.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "portcullis.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "portcullis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "portcullis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "portcullis.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "portcullis.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "portcullis.secretName" -}}
{{- default (include "portcullis.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/* Several replicas share sessions, keys and logouts only through Redis. */}}
{{- define "portcullis.checkReplicas" -}}
{{- $store := .Values.config.session.store | default "memory" }}
{{- if and (ne $store "redis") (or (gt (int .Values.replicaCount) 1) .Values.autoscaling.enabled) }}
{{- fail "replicaCount > 1 (or autoscaling) needs config.session.store: redis; the memory store keeps sessions in one pod" }}
{{- end }}
{{- end }}

{{/* session.redis.url; the passwords come from the environment (the Secret), never the ConfigMap. */}}
{{- define "portcullis.redisUrl" -}}
{{- $r := .Values.redis }}
{{- $scheme := ternary "rediss" "redis" $r.tls }}
{{- $auth := "" }}
{{- if or $r.auth .Values.secrets.redisPassword }}
{{- $auth = printf "%s:${env:REDIS_PASSWORD}@" $r.username }}
{{- else if $r.username }}
{{- $auth = printf "%s@" $r.username }}
{{- end }}
{{- $hosts := join "," $r.hosts }}
{{- if eq $r.mode "sentinel" }}
{{- $query := "" }}
{{- if or $r.sentinelAuth .Values.secrets.redisSentinelPassword }}
{{- $query = "?sentinel_password=${env:REDIS_SENTINEL_PASSWORD}" }}
{{- end }}
{{- printf "%s+sentinel://%s%s/%s/%d%s" $scheme $auth $hosts $r.sentinelMasterName (int $r.db) $query }}
{{- else if eq $r.mode "cluster" }}
{{- printf "%s+cluster://%s%s" $scheme $auth $hosts }}
{{- else }}
{{- printf "%s://%s%s/%d" $scheme $auth (first $r.hosts) (int $r.db) }}
{{- end }}
{{- end }}

{{/* The config file: the user's config plus what the chart owns. */}}
{{- define "portcullis.configFile" -}}
{{- $c := deepCopy .Values.config }}
{{- $server := get $c "server" | default dict }}
{{- $_ := set $server "listen" "0.0.0.0:8080" }}
{{- $_ := set $server "admin_listen" (printf "0.0.0.0:%d" (int .Values.service.adminPort)) }}
{{- $_ := set $c "server" $server }}
{{- $idp := get $c "idp" | default dict }}
{{- if or .Values.secrets.existingSecret .Values.secrets.clientSecret }}
{{- $_ := set $idp "client_secret" "${env:OIDC_CLIENT_SECRET}" }}
{{- end }}
{{- $_ := set $c "idp" $idp }}
{{- $cookie := get $c "cookie" | default dict }}
{{- $_ := set $cookie "secret" "${env:PORTCULLIS_COOKIE_SECRET}" }}
{{- $_ := set $c "cookie" $cookie }}
{{- $session := get $c "session" | default dict }}
{{- $_ := set $session "encryption_key" "${env:PORTCULLIS_SESSION_KEY}" }}
{{- if eq ($session.store | default "memory") "redis" }}
{{- $_ := set $session "redis" (dict "url" (include "portcullis.redisUrl" .) "key_prefix" .Values.redis.keyPrefix "configure_keyspace_events" .Values.redis.configureKeyspaceEvents) }}
{{- end }}
{{- $_ := set $c "session" $session }}
{{- $_ := set $c "policies_dir" "policies" }}
{{- toYaml $c }}
{{- end }}
