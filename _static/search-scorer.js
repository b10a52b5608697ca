/*
 * Search ranking of the cheat-sheet (conf.py: html_search_scorer; Sphinx inlines this file
 * into language_data.js, which the search page loads after searchtools.js).
 *
 * Sphinx scores a page by the best of its matched words, so for "LSTM backward" every page
 * with a "Backward" section tied with the LSTM page. Scorer.score, Sphinx's hook for a
 * custom score, replaces that by a sum over the query words of where the page has each:
 *
 *   in the page's own title                                   pageTitle      (20)
 *   as the start of the word ("BatchNorm" in "BatchNorm1d")   pageTitleStart (10)
 *   in a section title of the page                            sectionTitle   (10)
 *   in the text                                               text            (3)
 *   inside a longer word of the text or a title               partial         (1)
 *
 * (for a dotted identifier such as nn.CrossEntropyLoss, the titles are searched for its
 * last part),
 * plus up to `coverage` (5) for the share of the page title's words that the query names
 * ("LayerNorm" ranks "Layer normalisation (LayerNorm)" above the page comparing four
 * norms), plus `wholeQueryInTitle` (5) for Sphinx's own match of the whole query inside
 * one title. Pages must still contain every query word (Sphinx's rule).
 *
 * It reads the query from the page address (search.html?q=...), which is how the search
 * box submits it, and the index that searchtools.js loaded (Search._index).
 */
Object.assign(Scorer, {
  pageTitle: 20,
  pageTitleStart: 10,
  sectionTitle: 10,
  text: 3,
  partial: 1,
  coverage: 5,
  wholeQueryInTitle: 5,

  // stemmed, lower-case words of a text, as searchtools.js makes them from a query
  _words(text) {
    const stemmer = new Stemmer();
    return splitQuery(text.toLowerCase())
      .filter((word) => !stopwords.has(word) && !/^\d+$/.test(word) && word[0] !== "-")
      .map((word) => stemmer.stemWord(word));
  },

  _has(files, file) {
    return files !== undefined && (Array.isArray(files) ? files.includes(file) : files === file);
  },

  _state: null,
  _prepare() {
    const query = new URLSearchParams(window.location.search).get("q") || "";
    if (this._state && this._state.query === query) return this._state;
    const index = Search._index;
    const partialFiles = new Map(); // word -> files with a longer word containing it
    const queryWords = [...new Set(this._words(query))];
    for (const word of queryWords) {
      const files = new Set();
      for (const terms of [index.terms, index.titleterms])
        for (const [term, found] of Object.entries(terms))
          if (term !== word && term.includes(word)) [].concat(found).forEach((f) => files.add(f));
      partialFiles.set(word, files);
    }
    this._state = {query, index, queryWords, partialFiles, titleWords: new Map()};
    return this._state;
  },

  score(result) {
    const [docname, , , , sphinxScore, , kind] = result;
    const state = this._prepare();
    const index = state.index;
    const file = index.docnames.indexOf(docname);
    if (file < 0 || !state.queryWords.length) return sphinxScore;
    if (!state.titleWords.has(file)) state.titleWords.set(file, this._words(index.titles[file]));
    const titleWords = state.titleWords.get(file);
    let score = 0;
    let named = 0;
    for (const word of state.queryWords) {
      // a dotted identifier (nn.CrossEntropyLoss) is in the text; its last part
      // (crossentropyloss) may name the page or a section
      const name = word.split(".").pop();
      const startsWithTitleWord = titleWords.some((t) => t.length >= 4 && name.startsWith(t));
      if (titleWords.includes(name)) score += this.pageTitle;
      else if (startsWithTitleWord) score += this.pageTitleStart;
      else if (this._has(index.titleterms[name], file)) score += this.sectionTitle;
      else if (this._has(index.terms[word], file)) score += this.text;
      else if (state.partialFiles.get(word).has(file)) score += this.partial;
      if (titleWords.includes(name) || startsWithTitleWord) named += 1;
    }
    score += (this.coverage * Math.min(named, titleWords.length)) / Math.max(titleWords.length, 1);
    if (kind === "title") score += this.wholeQueryInTitle;
    return Math.round(score * 100) / 100;
  },
});
