variable "zone_id" {
  description = "Designate zone ID of the cluster's zone (e.g. prod.fitsync.example.)."
  type        = string
}

variable "zone_name" {
  description = "Zone name with the trailing dot (e.g. prod.fitsync.example.)."
  type        = string

  validation {
    condition     = endswith(var.zone_name, ".")
    error_message = "zone_name must end with a dot."
  }
}

variable "api_ip" {
  description = "Address of the Kubernetes API load balancer (the VIP)."
  type        = string
}

variable "ingress_ip" {
  description = "Address of the ingress load balancer (floating IP or VIP)."
  type        = string
}

variable "hosts" {
  description = "host name => IPv4 for per-node A records."
  type        = map(string)
}

variable "ttl" {
  description = "TTL of the records in seconds."
  type        = number
  default     = 300
}
