"""CDK assertion tests of the stack, cdk-nag and cfn-lint, on one synthesized template."""
