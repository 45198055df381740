variable "name" {
  description = "Cluster name prefix."
  type        = string
}

variable "image_id" {
  description = "Glance image ID of the base OS (Debian 12 generic cloud image)."
  type        = string
}

variable "server_flavor" {
  description = "Nova flavor for k3s servers (control plane + embedded etcd)."
  type        = string
}

variable "agent_flavor" {
  description = "Nova flavor for k3s agents (workloads)."
  type        = string
}

variable "server_count" {
  description = "Number of k3s servers. Embedded etcd needs an odd number >= 3 for HA."
  type        = number
  default     = 3

  validation {
    condition     = var.server_count >= 3 && var.server_count % 2 == 1 && var.server_count <= 29
    error_message = "server_count must be odd and at least 3 (etcd quorum)."
  }
}

variable "agent_count" {
  description = "Number of k3s agents."
  type        = number

  validation {
    condition     = var.agent_count >= 1 && var.agent_count <= 150
    error_message = "agent_count must be between 1 and 150."
  }
}

variable "root_volume_size_gb" {
  description = "Size of each node's boot volume in GiB (OS, container images, k3s state)."
  type        = number
  default     = 60
}

variable "volume_type" {
  description = "Cinder volume type for boot volumes (an encrypted type is recommended)."
  type        = string
}

variable "network_id" {
  description = "Node network ID (network module)."
  type        = string
}

variable "subnet_id" {
  description = "Node subnet ID (network module)."
  type        = string
}

variable "node_cidr" {
  description = "Node subnet CIDR; servers get host numbers 20.., agents 50..."
  type        = string
}

variable "secgroup_ids" {
  description = "Security group IDs to attach to every node."
  type        = list(string)
}

variable "ssh_public_key" {
  description = "Public key installed for the initial admin user (Ansible connects with it)."
  type        = string
}

variable "domain" {
  description = "DNS domain of the nodes (e.g. prod.fitsync.internal); used for hostnames."
  type        = string
}

variable "depends_on_ids" {
  description = "IDs that must exist before the VMs boot (the router interface)."
  type        = list(string)
  default     = []
}
