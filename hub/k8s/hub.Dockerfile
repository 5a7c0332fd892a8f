# The room's hub image: Zero to JupyterHub's own hub image for chart 4.4.0 (the chart version in
# hub/k8s/config.yaml), plus the Redis client that config.yaml's hub.extraConfig uses to give
# each learner a Redis user of their own. The chart's image has no Redis client; nothing of the
# course goes in, so this image changes only with the chart version.
#
#   docker build -f hub/k8s/hub.Dockerfile -t registry.example.org/make-or-break-hub:4.4.0 hub/k8s
#   docker push registry.example.org/make-or-break-hub:4.4.0
FROM quay.io/jupyterhub/k8s-hub:4.4.0

USER root
RUN pip install --no-cache-dir "redis==8.2.0"
USER jovyan
