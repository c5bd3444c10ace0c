# Endpoint names for juju_integration, as in metadata.yaml. Peer endpoints are left out, as
# upstream does: Juju relates a peer endpoint by itself, it is never integrated by hand.
# tests/python/terraform/check_module.py checks these maps against metadata.yaml.

output "app_name" {
  description = "Name of the deployed application"
  value       = juju_application.istio_beacon.name
}

output "provides" {
  description = "Map of the charm's provides endpoints (key: endpoint name with _ for -)"
  value = {
    provide_cmr_mesh = "provide-cmr-mesh"
    service_mesh     = "service-mesh"
    metrics_endpoint = "metrics-endpoint"
  }
}

output "requires" {
  description = "Map of the charm's requires endpoints (key: endpoint name with _ for -)"
  value = {
    charm_tracing = "charm-tracing"
  }
}

output "endpoints" {
  description = "All of the charm's endpoints but peers, requires and provides together (the single output of upstream's track/2 module)"
  value = {
    # Requires
    charm_tracing = "charm-tracing"

    # Provides
    provide_cmr_mesh = "provide-cmr-mesh"
    service_mesh     = "service-mesh"
    metrics_endpoint = "metrics-endpoint"
  }
}
