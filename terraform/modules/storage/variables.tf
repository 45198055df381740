variable "name" {
  description = "Cluster name prefix."
  type        = string
}

variable "data_disks" {
  description = "One data volume per node: node name => { instance_id, size_gb }. Ansible formats it (ext4, label fitsync-data) and mounts it at /var/lib/rancher/k3s/storage, the k3s local-path provisioner's directory."
  type = map(object({
    instance_id = string
    size_gb     = number
  }))
}

variable "volume_type" {
  description = "Cinder volume type for the data volumes. Use an encrypted (LUKS, front-end) type: PostgreSQL, Kafka and OpenSearch data live here."
  type        = string
}

variable "availability_zone" {
  description = "Cinder availability zone (null: the default)."
  type        = string
  default     = null
}
