"""SES email templates, one file each under ``templates/`` (format and reader:
``stacks/template_files.py``), deployed as ``AWS::SES::Template``."""

from __future__ import annotations

from aws_cdk import aws_ses as ses
from constructs import Construct

from stacks.template_files import EmailTemplate, by_ses_name


class SesTemplates(Construct):
    """One ``AWS::SES::Template`` per file, named ``template_prefix`` + the file stem (producers
    name the stem; the sender adds the prefix)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        templates: tuple[EmailTemplate, ...],
        prefix: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.templates = {
            template.name: ses.CfnTemplate(
                self,
                template.name,
                template=ses.CfnTemplate.TemplateProperty(
                    template_name=ses_name,
                    subject_part=template.subject,
                    text_part=template.text,
                    html_part=template.html,
                ),
            )
            for ses_name, template in by_ses_name(templates, prefix).items()
        }
