output "data_volumes" {
  description = "node name => { volume_id, device }. Ansible finds the disk by its virtio serial (first 20 chars of the volume ID)."
  value = {
    for name, _ in var.data_disks : name => {
      volume_id = openstack_blockstorage_volume_v3.data[name].id
      device    = openstack_compute_volume_attach_v2.data[name].device
    }
  }
}
