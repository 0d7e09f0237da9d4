"""What runs inside a SageMaker container, run locally: the container contract
(:mod:`.contract`), which local environment runs an image (:mod:`.environments`), the model-server
process (:mod:`.serving`) and one module per framework (:mod:`.frameworks`)."""
