// Reads every chart's value-axis labels as ECharts laid them out (what is drawn on the canvas)
// and returns the charts where two neighbouring labels read the same.
export async function repeatedAxisLabels(page) {
  return page.evaluate(() => {
    const out = [];
    for (const element of document.querySelectorAll('[id^="chart-"]')) {
      const chart = window.echarts && window.echarts.getInstanceByDom(element);
      const axis = chart && chart.getModel().getComponent('yAxis', 0);
      if (!axis) continue;
      const labels = axis.axis.getViewLabels().map((label) => label.formattedLabel);
      for (let i = 1; i < labels.length; i += 1) {
        if (labels[i] === labels[i - 1]) {
          out.push(`${element.id}: ${labels.join(', ')}`);
          break;
        }
      }
    }
    return out;
  });
}

// Every chart on the page scrolled into view once (off-screen charts wait for live updates).
export async function visitCharts(page) {
  for (const element of await page.locator('[id^="chart-"]').all()) {
    await element.scrollIntoViewIfNeeded();
  }
  await page.waitForTimeout(300);
}
