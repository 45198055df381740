# A dedicated data volume per node for persistent volumes.
#
# Storage choice: the stateful services FitSync runs all replicate at the
# application level (CloudNativePG streaming replicas, Kafka/Strimzi
# replication factor 3, OpenSearch replica shards, Vault raft). A second,
# block-level replication layer (Longhorn, Ceph) would double the write
# amplification and latency for no extra safety, so PVs use k3s's bundled
# local-path provisioner on this data disk, and the operators spread replicas
# across nodes with anti-affinity. Servers get a smaller disk (etcd snapshots,
# control plane only); agents get the large one.

resource "openstack_blockstorage_volume_v3" "data" {
  for_each          = var.data_disks
  name              = "${each.key}-data"
  size              = each.value.size_gb
  volume_type       = var.volume_type
  availability_zone = var.availability_zone
  description       = "${var.name} local-path PV storage for ${each.key}"

  metadata = {
    cluster = var.name
    node    = each.key
  }

  lifecycle {
    # Data volumes outlive their VMs: a rebuilt node gets its data back.
    prevent_destroy = true
  }
}

resource "openstack_compute_volume_attach_v2" "data" {
  for_each    = var.data_disks
  instance_id = each.value.instance_id
  volume_id   = openstack_blockstorage_volume_v3.data[each.key].id
}
