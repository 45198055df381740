variable "name" {
  description = "Cluster name prefix."
  type        = string
}

variable "image_id" {
  description = "Glance image ID (Debian 12)."
  type        = string
}

variable "flavor" {
  description = "Nova flavor for the HAProxy/keepalived VMs (small: 2 vCPU / 2 GiB is plenty)."
  type        = string
}

variable "volume_type" {
  description = "Cinder volume type for boot volumes."
  type        = string
}

variable "network_id" {
  description = "Node network ID."
  type        = string
}

variable "subnet_id" {
  description = "Node subnet ID."
  type        = string
}

variable "node_cidr" {
  description = "Node subnet CIDR; the VIP is host 10, the load balancers 11 and 12."
  type        = string
}

variable "secgroup_ids" {
  description = "Security groups for the load balancer ports (ssh + lb)."
  type        = list(string)
}

variable "keypair_name" {
  description = "Nova keypair (from the nodes module)."
  type        = string
}

variable "domain" {
  description = "DNS domain for hostnames."
  type        = string
}

variable "floating_ip_pool" {
  description = "External network name to allocate a floating IP for the VIP from; null keeps the VIP private (reached over VPN)."
  type        = string
  default     = null
}

variable "depends_on_ids" {
  description = "IDs that must exist before the VMs boot (the router interface)."
  type        = list(string)
  default     = []
}
