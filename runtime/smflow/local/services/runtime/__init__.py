"""The local SageMaker Runtime: InvokeEndpoint's wire protocol (:mod:`.responses`), its errors
(:mod:`.exceptions`) and the HTTP request handler that answers it without WSGI objects
(:mod:`.handler`, the runtime's hot path). The endpoints it invokes are the SageMaker backend's
(:meth:`smflow.local.services.sagemaker.backend.SageMakerBackend.invoke_endpoint`)."""
