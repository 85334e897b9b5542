"""Institution and IIZ project registries: packaged YAML files, validated on load."""

from schemas.registry.institutions import (
    Channel,
    Institution,
    InstitutionRegistry,
    KafkaChannel,
    WebhookChannel,
    load_institutions,
)
from schemas.registry.projects import Project, ProjectRegistry, load_projects

__all__ = [
    "Channel",
    "Institution",
    "InstitutionRegistry",
    "KafkaChannel",
    "Project",
    "ProjectRegistry",
    "WebhookChannel",
    "load_institutions",
    "load_projects",
]
