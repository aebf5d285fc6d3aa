"""The CDK stack of the bulk email sender and its constructs, one module per concern."""
