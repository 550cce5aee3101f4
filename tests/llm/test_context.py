"""ConversationContext: what the model sees of the conversation."""

from llm import ConversationContext, MessageRole, ReasoningBlock, ToolCall


def roles(context: ConversationContext) -> list[MessageRole]:
    return [m.role for m in context.get_messages()]


def test_system_message_comes_first_and_survives_pruning() -> None:
    context = ConversationContext(max_turns=2, system_message="Be brief.")
    for n in range(5):
        context.add_user_message(f"question {n}")
        context.add_assistant_message(f"answer {n}")

    messages = context.get_messages()
    assert messages[0].role is MessageRole.SYSTEM and messages[0].content == "Be brief."
    assert [m.content for m in messages[1:]] == ["question 3", "answer 3", "question 4", "answer 4"]


def test_pruning_never_separates_a_tool_call_from_its_result() -> None:
    context = ConversationContext(max_turns=1)
    context.add_user_message("what time is it?")
    call = ToolCall(id="call_1", name="current_time", arguments={})
    context.add_assistant_message("", tool_calls=[call])
    context.add_tool_result("call_1", "12:00", name="current_time")
    context.add_assistant_message("It is noon.")
    context.add_user_message("thanks")

    assert roles(context) == [MessageRole.USER]
    context.add_assistant_message("You're welcome.")
    assert all(m.role is not MessageRole.TOOL for m in context.get_messages())


def test_a_turn_with_tools_is_kept_whole() -> None:
    context = ConversationContext(max_turns=1)
    context.add_user_message("what time is it?")
    context.add_assistant_message("", tool_calls=[ToolCall(id="c1", name="current_time", arguments={})])
    context.add_tool_result("c1", "12:00", name="current_time")

    assert roles(context) == [MessageRole.USER, MessageRole.ASSISTANT, MessageRole.TOOL]
    assert context.get_messages()[2].tool_call_id == "c1"


def test_drop_oldest_turn_keeps_the_current_question() -> None:
    context = ConversationContext(max_turns=10)
    context.add_user_message("first")
    context.add_assistant_message("one")
    context.add_user_message("second")

    assert context.drop_oldest_turn() is True
    assert [m.content for m in context.get_messages()] == ["second"]
    assert context.drop_oldest_turn() is False


def test_clear_forgets_the_conversation_but_not_the_system_message() -> None:
    context = ConversationContext(max_turns=3, system_message="sys")
    context.add_user_message("hello")
    context.clear()
    assert [m.content for m in context.get_messages()] == ["sys"]
    assert len(context) == 0


def test_a_tool_call_keeps_its_thinking_and_a_failed_result_says_so() -> None:
    context = ConversationContext()
    context.add_user_message("weather in Atlantis?")
    thought = [ReasoningBlock("Call get_weather.", "sig-1"), ReasoningBlock(redacted_data="opaque")]
    call = ToolCall(id="c1", name="get_weather", arguments={"city": "Atlantis"})
    context.add_assistant_message("", tool_calls=[call], reasoning_blocks=thought)
    context.add_tool_result("c1", "no weather station in Atlantis", name="get_weather", is_error=True)
    context.add_assistant_message("I could not find Atlantis.")

    asked, failed, answered = context.get_messages()[1:]
    assert asked.reasoning_blocks == thought
    assert failed.is_error
    assert answered.reasoning_blocks is None and not answered.is_error
