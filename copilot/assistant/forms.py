from django import forms


class AnalyzeForm(forms.Form):
    """The Assistant tab's "Analyze my workflow". The analysis type is checked by `analyze_workflow` (one rule for
    the page and the API). `agent` (choices: `agents`) is shown to those who may analyse a colleague's workflow
    and checked by `analysis_subject` for everyone (another brokerage's member: 404, without the permission: 403).
    """

    analysis_type = forms.CharField(max_length=50, initial="workflow_efficiency", widget=forms.HiddenInput)
    agent = forms.IntegerField(required=False, label="Whose workflow", widget=forms.Select)

    def __init__(self, *args, agents=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agent"].widget.choices = [("", "Mine")] + [(agent.pk, agent.display_name) for agent in agents]

    def agent_id(self) -> int | None:
        return self.cleaned_data.get("agent")
