"""Language detection, sentence splitting, query terms and personal-data masking."""
from dataclasses import replace

from bot.privacy import mask
from bot.relevance import judge
from bot.text import detect_lang, query_terms, split_sentences
from bot.types import Passage


def test_language_is_english_only_for_latin_script_without_chinese():
    assert detect_lang("How many platforms?") == "en"
    assert detect_lang("青岛 proof-of-concept 平台") == "zh"
    assert detect_lang("123") == "zh"


def test_sentences_keep_their_punctuation_and_are_never_cut():
    text = "一是畅通转化渠道。出台实施政策2.0版，完善机制；二是优化！“好”。"
    assert split_sentences(text) == ["一是畅通转化渠道。", "出台实施政策2.0版，完善机制；", "二是优化！", "“好”。"]


def test_query_terms_drop_question_words_and_flag_place_names():
    terms = {t.word: t for t in query_terms("深圳的人工智能企业补贴标准是多少？")}
    assert "多少" not in terms and "的" not in terms
    assert terms["深圳"].entity and terms["人工智能"].weight == 1.0


def test_mask_hides_phones_ids_and_emails_but_keeps_the_rest():
    out = mask("电话13812345678，身份证370202199001011234，邮箱zhang.san@example.com，座机0532-88886666。")
    assert "13812345678" not in out and "138****5678" in out
    assert "370202199001011234" not in out
    assert "zhang.san@" not in out and "@example.com" in out
    assert "88886666" not in out and out.endswith("。")


def _p(text: str, score: float = 0.8) -> Passage:
    return Passage("c", text, "t", "", "s", "d", score, dense_score=0.9)


def test_a_place_the_passages_never_mention_makes_the_question_out_of_scope():
    """A place outside the region gazetteer (regions are scoped by bot.scope) that nothing mentions."""
    rel = judge("迪拜的人工智能企业补贴标准是多少？", [_p("加强新一代信息技术、人工智能2个先导产业技术攻关")], 0.5)
    assert not rel.relevant and "迪拜" in rel.reason


def test_a_quoted_name_the_knowledge_base_never_mentions_is_out_of_scope():
    known = {"企业", "扶持资金", "青岛"}.__contains__
    rel = judge("被评为“瞪羚企业”的青岛公司能拿到哪些扶持资金？", [_p("设立校企合作扶持资金，扶持企业")], 0.3, known)
    assert not rel.relevant and "瞪羚企业" in rel.reason


def test_everyday_words_count_when_the_formal_word_is_in_the_passage():
    """罚多少 stands for 罚款: without the synonym the question's words would be missing."""
    rel = judge("乱倒垃圾罚多少？", [_p("倾倒垃圾的，处二百元以上二千元以下罚款。")], 0.3)
    assert rel.relevant and rel.coverage >= 0.8


def test_latin_words_match_whole_words_only():
    """"hi" is not found inside "phish": a greeting is not covered by a passage about phishing."""
    assert not judge("hi", [_p("Beware of phishing sites.")], 0.3, expanded="hi").relevant


def test_a_question_whose_words_are_in_the_passages_is_relevant():
    rel = judge("青岛计划建设多少家概念验证平台？", [_p("青岛三年内建设概念验证平台60家左右")], 0.5)
    assert rel.relevant and rel.coverage > 0.7


def test_a_low_retriever_score_is_not_relevant_even_with_overlapping_words():
    assert not judge("概念验证平台", [_p("概念验证平台", score=0.2)], 0.5).relevant


def test_the_passage_that_answers_counts_even_when_it_ranks_below_three_that_share_only_the_topic():
    topic = [replace(_p(f"青岛积极探索推进科技成果转化，第{i}项举措。"), semantic=0.8) for i in range(3)]
    answer = replace(_p("成立市级科技成果转化专项投资基金，引导金融资本投早投小。", score=0.5), semantic=0.5)
    assert judge("为了支持成果转化，青岛打算设立什么基金？", [*topic, answer], 0.3).relevant
    assert not judge("为了支持成果转化，青岛打算设立什么基金？", topic, 0.3).relevant


def test_english_questions_are_judged_on_their_glossary_translation():
    assert judge("How many platforms?", [_p("概念验证平台60家", score=0.6)], 0.3, expanded="How many 平台?").relevant
    assert not judge("Best restaurant?", [_p("概念验证平台60家", score=0.1)], 0.3, expanded="Best restaurant?").relevant


def test_a_country_named_in_short_form_in_a_compound_counts_as_mentioned():
    rel = judge("青岛和日本韩国有什么科技合作平台", [_p("中日韩创新合作中心青岛基地等科技合作平台")], 0.3)
    assert rel.relevant


def test_names_are_masked_like_phones():
    from bot.privacy import mask_name

    assert (mask_name("王先生"), mask_name("欧阳娜娜"), mask_name("Zhang Wei"), mask_name("")) == ("王**", "欧***", "Z*** W***", "")
