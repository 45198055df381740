variable "name" {
  description = "Cluster name, used as a prefix for every resource (e.g. fitsync-prod)."
  type        = string
}

variable "node_cidr" {
  description = "IPv4 CIDR of the private node network."
  type        = string
}

variable "dns_nameservers" {
  description = "Resolvers handed out by DHCP on the node network."
  type        = list(string)
}

variable "external_network_id" {
  description = "ID of the provider (external) network the router uplinks to."
  type        = string
}

variable "admin_cidrs" {
  description = "CIDRs allowed to reach SSH on every VM and the Kubernetes API on the load balancer (VPN / bastion ranges). Never 0.0.0.0/0."
  type        = list(string)

  validation {
    condition     = length(var.admin_cidrs) > 0 && !contains(var.admin_cidrs, "0.0.0.0/0")
    error_message = "admin_cidrs must be a non-empty list of specific ranges, not 0.0.0.0/0."
  }
}

variable "ingress_cidrs" {
  description = "CIDRs allowed to reach HTTP/HTTPS on the load balancer (the Istio ingress gateway behind it)."
  type        = list(string)
}

variable "pod_cidr" {
  description = "k3s cluster-cidr (pods). Must match the Ansible k3s_cluster_cidr."
  type        = string
  default     = "10.42.0.0/16"
}

variable "ingress_node_ports" {
  description = "NodePorts of the Istio ingress gateway (http, https, status) that HAProxy forwards to."
  type        = list(number)
  default     = [30080, 30443, 30021]
}
