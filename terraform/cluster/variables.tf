variable "name" {
  description = "Cluster name, prefix of every resource (fitsync-prod, fitsync-staging)."
  type        = string
}

variable "environment" {
  description = "Environment name written into the inventory (production, staging)."
  type        = string
}

variable "node_cidr" {
  description = "Private node network CIDR (/24 or larger)."
  type        = string
}

variable "dns_nameservers" {
  description = "Resolvers for the node subnet."
  type        = list(string)
}

variable "external_network_id" {
  description = "ID of the external network for the router uplink."
  type        = string
}

variable "floating_ip_pool" {
  description = "External network name for the ingress floating IP; null = private only."
  type        = string
  default     = null
}

variable "admin_cidrs" {
  description = "VPN/bastion CIDRs allowed to SSH and to reach the Kubernetes API."
  type        = list(string)

  validation {
    condition     = length(var.admin_cidrs) > 0 && !contains(var.admin_cidrs, "0.0.0.0/0")
    error_message = "admin_cidrs must be specific ranges, never 0.0.0.0/0."
  }
}

variable "ingress_cidrs" {
  description = "CIDRs allowed to reach HTTP(S) on the ingress VIP."
  type        = list(string)
}

variable "image_id" {
  description = "Debian 12 cloud image ID."
  type        = string
}

variable "server_flavor" {
  description = "Flavor of k3s servers."
  type        = string
}

variable "agent_flavor" {
  description = "Flavor of k3s agents."
  type        = string
}

variable "lb_flavor" {
  description = "Flavor of the HAProxy/keepalived VMs."
  type        = string
}

variable "server_count" {
  description = "k3s servers (odd, >= 3: embedded etcd quorum)."
  type        = number
  default     = 3

  validation {
    condition     = var.server_count >= 3 && var.server_count % 2 == 1
    error_message = "server_count must be odd and at least 3 (etcd quorum)."
  }
}

variable "agent_count" {
  description = "k3s agents."
  type        = number
}

variable "volume_type" {
  description = "Cinder volume type (encrypted) for boot and data volumes."
  type        = string
}

variable "server_data_gb" {
  description = "Data volume size on servers (GiB)."
  type        = number
  default     = 50
}

variable "agent_data_gb" {
  description = "Data volume size on agents (GiB): PostgreSQL, Kafka, OpenSearch PVs."
  type        = number
}

variable "ssh_public_key" {
  description = "Admin SSH public key used by Ansible."
  type        = string
}

variable "dns_zone_id" {
  description = "Designate zone ID."
  type        = string
}

variable "dns_zone_name" {
  description = "Designate zone name with trailing dot, e.g. prod.fitsync.example."
  type        = string
}

variable "ansible_user" {
  description = "Login user of the cloud image (Debian: debian)."
  type        = string
  default     = "debian"
}
