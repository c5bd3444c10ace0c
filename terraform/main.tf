# istio-beacon-k8s as a Terraform module: one juju_application, deployed with --trust
# (the beacon writes AuthorizationPolicies, the waypoint Gateway and its HPA, and labels
# its model's Namespace, through its ServiceAccount). Usage, inputs and outputs: README.md.

resource "juju_application" "istio_beacon" {
  name               = var.app_name
  model_uuid         = var.model_uuid
  config             = var.config
  constraints        = var.constraints
  storage_directives = var.storage_directives
  trust              = true
  units              = var.units

  charm {
    name     = "istio-beacon-k8s"
    channel  = var.channel
    revision = var.revision
    base     = var.base
  }
}
