{{/* The release's base name: fitsync-<target> for each workload. */}}
{{- define "fitsync.name" -}}
{{- default .Release.Name .Values.nameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "fitsync.fullname" -}}
{{- printf "%s-%s" (include "fitsync.name" .root) .target | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "fitsync.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Labels every object carries; selectorLabels are the immutable subset. */}}
{{- define "fitsync.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
app.kubernetes.io/name: fitsync
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/version: {{ default .root.Chart.AppVersion .root.Values.image.tag | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: fitsync
{{- if .target }}
app.kubernetes.io/component: {{ .target }}
fitsync.io/job: {{ include "fitsync.fullname" . }}
{{- end }}
{{- end -}}

{{- define "fitsync.selectorLabels" -}}
app.kubernetes.io/name: fitsync
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .target }}
{{- end -}}

{{/* Where the binary reads its secrets file, per provider. */}}
{{- define "fitsync.secretsFile" -}}
{{- if eq .Values.secrets.provider "vault" -}}
/vault/secrets/fitsync.toml
{{- else -}}
/etc/fitsync/secrets/fitsync.toml
{{- end -}}
{{- end -}}

{{/* The databases a target opens (the relay publishes every service's outbox). */}}
{{- define "fitsync.databases" -}}
{{- $dbs := dict "users" (list "users") "training" (list "training") "schedule" (list "schedule") "progress" (list "progress") "notifications" (list "notifications") "relay" (list "users" "training" "schedule" "progress" "notifications") "analytics" (list "progress") "alerts" (list "notifications") "indexer" (list) "projector" (list "training" "schedule" "progress") "migrate" (list "users" "training" "schedule" "progress" "notifications") -}}
{{- get $dbs . | join "," -}}
{{- end -}}

{{/*
Vault agent injector annotations: the agent logs in with the target's own service
account (a projected token with Vault's audience, mounted into the agent only) and renders
the TOML file the binary reads through FITSYNC_CONFIG. Database credentials are dynamic
(the database secrets engine issues a role per target); keys come from KV v2.
*/}}
{{- define "fitsync.vaultAnnotations" -}}
{{- $v := .root.Values.secrets.vault -}}
vault.hashicorp.com/agent-inject: "true"
vault.hashicorp.com/role: {{ printf "%s%s" $v.rolePrefix .target | quote }}
vault.hashicorp.com/agent-service-account-token-volume-name: vault-token
vault.hashicorp.com/agent-run-as-user: "65532"
vault.hashicorp.com/agent-run-as-group: "65532"
vault.hashicorp.com/agent-inject-secret-fitsync.toml: {{ printf "%s/%s" $v.kvPath .target | quote }}
{{- if .prepopulateOnly }}
vault.hashicorp.com/agent-pre-populate-only: "true"
{{- end }}
vault.hashicorp.com/agent-inject-template-fitsync.toml: |
  {{- $tmpl := .root.Files.Get "files/vault-agent.ctmpl" }}
  {{- if include "fitsync.databases" .target }}
  {{- $tmpl = print $tmpl (.root.Files.Get "files/vault-agent-database.ctmpl") }}
  {{- end }}
  {{- $tmpl = replace "__KV__" (printf "%s/%s" $v.kvPath .target) $tmpl }}
  {{- $tmpl = replace "__DB__" (printf "%s/fitsync-%s" $v.databaseCredsPath .target) $tmpl }}
  {{- $tmpl = replace "__POSTGRES__" $v.postgresHost $tmpl }}
  {{- $tmpl = replace "__REDIS__" $v.redisHost $tmpl }}
  {{- $tmpl | nindent 2 }}
{{- end -}}

{{/*
The pod spec every target shares; .args are the binary's arguments. Used by the
workloads (Deployment or Rollout) and by the migration Job.
*/}}
{{- define "fitsync.podSpec" -}}
{{- $root := .root -}}
{{- $values := $root.Values -}}
serviceAccountName: {{ include "fitsync.fullname" . }}
automountServiceAccountToken: {{ $values.serviceAccount.automount }}
enableServiceLinks: false
securityContext:
  {{- toYaml $values.podSecurityContext | nindent 2 }}
terminationGracePeriodSeconds: {{ $values.terminationGracePeriodSeconds }}
{{- with .restartPolicy }}
restartPolicy: {{ . }}
{{- end }}
{{- if and $values.topologySpread.enabled (not .restartPolicy) }}
topologySpreadConstraints:
  {{- range $values.topologySpread.keys }}
  - maxSkew: {{ $values.topologySpread.maxSkew }}
    topologyKey: {{ . }}
    whenUnsatisfiable: {{ if eq . "kubernetes.io/hostname" }}DoNotSchedule{{ else }}ScheduleAnyway{{ end }}
    labelSelector:
      matchLabels:
        {{- include "fitsync.selectorLabels" $ | nindent 8 }}
    matchLabelKeys: [{{ if and $.api $values.rollouts.enabled }}rollouts-pod-template-hash{{ else }}pod-template-hash{{ end }}]
  {{- end }}
{{- end }}
containers:
  - name: fitsync
    image: {{ include "fitsync.image" $root }}
    imagePullPolicy: {{ $values.image.pullPolicy }}
    args:
      {{- toYaml .args | nindent 6 }}
    {{- if .restartPolicy }}
    {{- /* A hook runs before the release's ConfigMap exists: its settings inline. */}}
    env:
      {{- range $key, $value := $values.config }}
      - name: {{ $key }}
        value: {{ $value | quote }}
      {{- end }}
    {{- else }}
    envFrom:
      - configMapRef:
          name: {{ include "fitsync.name" $root }}-config
    env:
    {{- end }}
      - name: FITSYNC_CONFIG
        value: {{ include "fitsync.secretsFile" $root }}
    {{- if not .restartPolicy }}
    ports:
      - name: http
        containerPort: {{ $values.ports.http }}
        protocol: TCP
      - name: http-metrics
        containerPort: {{ $values.ports.metrics }}
        protocol: TCP
    startupProbe:
      httpGet: {path: {{ $values.probes.startup.path }}, port: http}
      periodSeconds: {{ $values.probes.startup.periodSeconds }}
      failureThreshold: {{ $values.probes.startup.failureThreshold }}
    readinessProbe:
      httpGet: {path: {{ $values.probes.readiness.path }}, port: http}
      periodSeconds: {{ $values.probes.readiness.periodSeconds }}
      failureThreshold: {{ $values.probes.readiness.failureThreshold }}
      timeoutSeconds: {{ $values.probes.readiness.timeoutSeconds }}
    livenessProbe:
      httpGet: {path: {{ $values.probes.liveness.path }}, port: http}
      periodSeconds: {{ $values.probes.liveness.periodSeconds }}
      failureThreshold: {{ $values.probes.liveness.failureThreshold }}
      timeoutSeconds: {{ $values.probes.liveness.timeoutSeconds }}
    {{- end }}
    resources:
      {{- toYaml .resources | nindent 6 }}
    securityContext:
      {{- toYaml $values.securityContext | nindent 6 }}
    volumeMounts:
      - name: tmp
        mountPath: /tmp
      {{- if eq $values.secrets.provider "externalSecrets" }}
      - name: secrets
        mountPath: /etc/fitsync/secrets
        readOnly: true
      {{- end }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: 64Mi
  {{- if eq $values.secrets.provider "vault" }}
  # Vault's Kubernetes auth: a short-lived token for Vault's audience, mounted into the
  # agent only (the app container sees no token at all).
  - name: vault-token
    projected:
      sources:
        - serviceAccountToken:
            audience: vault
            expirationSeconds: 600
            path: token
  {{- else }}
  - name: secrets
    secret:
      secretName: {{ include "fitsync.fullname" . }}-secrets
      defaultMode: 0440
  {{- end }}
{{- end -}}

{{/* Pod-template annotations every target shares. */}}
{{- define "fitsync.podAnnotations" -}}
checksum/config: {{ include (print .root.Template.BasePath "/configmap.yaml") .root | sha256sum }}
{{- if .root.Values.istio.enabled }}
sidecar.istio.io/inject: "true"
{{- if .root.Values.istio.nativeSidecar }}
sidecar.istio.io/nativeSidecar: "true"
{{- end }}
{{- end }}
{{- if eq .root.Values.secrets.provider "vault" }}
{{ include "fitsync.vaultAnnotations" . }}
{{- end }}
{{- end -}}
