"""English prompts to segment rules ("customers in Paris who spent over 500 and ordered
in the last 90 days"): a tokenizer, a recursive-descent grammar of constructions, the
segments validator as the last word, and a plain-English explanation. `parse_segment`
asks the optional LLM first (LLM_URL) and falls back to the offline parser."""

from campaigns.nlp.explain import explain_rule
from campaigns.nlp.parser import SegmentParse, llm_parse, offline_parse, parse_segment

__all__ = ["SegmentParse", "explain_rule", "llm_parse", "offline_parse", "parse_segment"]
